"""The deadline policy: the plan's clocks as data (see ``default.toml``)."""

from policy.model import ClockName, ClockRule, ResolvedPolicy

__all__ = ["ClockName", "ClockRule", "ResolvedPolicy"]
