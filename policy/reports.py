"""Thresholds of the monthly analysis and the quarterly evaluation, from a TOML file.

``policy/reports.toml`` by default; ``CASE_REPORTS_FILE`` (the settings' ``reports_file``)
names another copy.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from contracts.reports import ReportRules
from policy.loader import load_policy_document


@lru_cache(maxsize=8)
def _load(path: str | None) -> ReportRules:
    if path is None:
        text = resources.files("policy").joinpath("reports.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return ReportRules.model_validate(tomllib.loads(text))


def report_rules(path: Path | None = None) -> ReportRules:
    """The rules of ``path`` (the settings' ``reports_file``), or the built-in ones."""
    return _load(None if path is None else str(path))


def policy_timezone(policy_file: Path | None) -> str:
    """The deadline policy's time zone: reports count months in the bank's local time."""
    return load_policy_document(policy_file).rules.timezone
