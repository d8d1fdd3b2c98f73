"""One settings class for everything that is not Temporal's own connection config."""

from settings.app import Settings, get_settings

__all__ = ["Settings", "get_settings"]
