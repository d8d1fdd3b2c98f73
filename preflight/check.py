"""Configuration checked at start: a process refuses to run on a file it cannot use.

The worker and the API call :func:`check_configuration` before they take any work, so
a broken policy, departments, reports or tokens file, or malformed codec keys, stop the
process at once with a message naming the variable, the file and the key at fault,
instead of surfacing when the first case arrives. The API's ``/readyz`` calls
:func:`configuration_problems` on every probe and reports not ready while a file is
broken; the files are re-read only when their modification time or size changes.

A file that breaks while the worker runs does not stop it: intake waits for the file
to be fixed (the policy activity is retried), and cases already open keep the policy
they started with.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from calendars import OverlayError, load_overlay
from codec.keys import CodecKeyError, parse_codec_keys
from policy.loader import PolicyError, load_policy_document, load_policy_preset, policy_presets
from policy.reports import report_rules
from policy.taxonomies import TaxonomyError, built_in_taxonomies, load_taxonomy, load_taxonomy_file
from settings.app import Settings
from settings.departments import DepartmentsError, load_departments

__all__ = [
    "ConfigurationError",
    "TokensCheck",
    "check_configuration",
    "configuration_problems",
]


class ConfigurationError(ValueError):
    """The configuration cannot be used; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("refusing to start: " + "; ".join(problems))


TokensCheck = Callable[[Path | None], str | None]


def configuration_problems(settings: Settings, *, tokens: TokensCheck | None = None) -> list[str]:
    """Every problem with the files and keys named by ``settings``; empty when usable.

    ``tokens`` checks the API's tokens file (the API passes its own check; the worker
    does not read that file).
    """
    return [
        problem
        for problem in (
            _policy(settings.policy_file),
            *_regulatory_files(settings.policy_file),
            _overlay(settings.calendar_overlay_file),
            _departments(settings.departments_file),
            _codec_keys(settings.codec_keys),
            _reports(settings.reports_file),
            tokens(settings.api_tokens_file) if tokens is not None else None,
        )
        if problem is not None
    ]


def check_configuration(settings: Settings, *, tokens: TokensCheck | None = None) -> None:
    """Raise :class:`ConfigurationError` when any configured file or key is unusable."""
    problems = configuration_problems(settings, tokens=tokens)
    if problems:
        raise ConfigurationError(problems)


def _policy(path: Path | None) -> str | None:
    try:
        load_policy_document(path)
    except PolicyError as err:
        return f"CASE_POLICY_FILE: {err}"
    return None


def _regulatory_files(policy_file: Path | None) -> list[str | None]:
    """The regulator presets and taxonomies shipped with the engine, and the bank's own
    taxonomies beside its policy file (``<policy dir>/taxonomies/*.toml``): a broken
    one is refused at start, not when a complaint is classified."""
    problems: list[str | None] = []
    for name in policy_presets():
        try:
            load_policy_preset(name)
        except PolicyError as err:
            problems.append(f"policy preset {name}: {err}")
    for taxonomy in built_in_taxonomies():
        try:
            load_taxonomy(taxonomy)
        except TaxonomyError as err:
            problems.append(f"taxonomy {taxonomy}: {err}")
    if policy_file is not None:
        folder = policy_file.parent / "taxonomies"
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                load_taxonomy_file(path)
            except TaxonomyError as err:
                problems.append(f"CASE_POLICY_FILE's taxonomies: {err}")
    return problems


def _overlay(path: Path | None) -> str | None:
    try:
        load_overlay(path)
    except OverlayError as err:
        return f"CASE_CALENDAR_OVERLAY_FILE: {err}"
    return None


def _departments(path: Path | None) -> str | None:
    try:
        load_departments(path)
    except DepartmentsError as err:
        return f"CASE_DEPARTMENTS_FILE: {err}"
    return None


def _codec_keys(raw: str | None) -> str | None:
    try:
        parse_codec_keys(raw)
    except CodecKeyError as err:  # the message never holds key material
        return f"CASE_CODEC_KEYS: {err}"
    return None


def _reports(path: Path | None) -> str | None:
    """The report thresholds, with the ``[people]`` table (R5, R6.3), named by key."""
    try:
        report_rules(path)
    except OSError as err:
        return f"CASE_REPORTS_FILE: {path}: cannot be read ({err.strerror})"
    except tomllib.TOMLDecodeError as err:
        return f"CASE_REPORTS_FILE: {path}: not valid TOML ({err})"
    except ValidationError as err:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        return f"CASE_REPORTS_FILE: {path}: {where}"
    return None
