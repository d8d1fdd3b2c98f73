"""Thresholds of the monthly analysis and the quarterly evaluation, from a TOML file.

``policy/reports.toml`` by default; ``CASE_REPORTS_FILE`` names another copy.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from policy.loader import load_policy_document

REPORTS_FILE_ENV = "CASE_REPORTS_FILE"


class ReportRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_hour: int = Field(ge=0, le=23)
    weak_link_min_count: int = Field(ge=1)
    weak_link_limit: int = Field(ge=1)
    recurring_ratio: float = Field(gt=1)
    recurring_min_count: int = Field(ge=1)
    trailing_months: int = Field(ge=1, le=12)
    repeat_window_days: int = Field(ge=1)
    list_limit: int = Field(ge=1)
    deterioration_points: float = Field(gt=0)
    satisfaction_drop: float = Field(gt=0)


@lru_cache(maxsize=8)
def _load(path: str | None) -> ReportRules:
    if path is None:
        text = resources.files("policy").joinpath("reports.toml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return ReportRules.model_validate(tomllib.loads(text))


def report_rules() -> ReportRules:
    """The rules in force (the file named by ``CASE_REPORTS_FILE``, or the built-in)."""
    return _load(os.environ.get(REPORTS_FILE_ENV) or None)


def policy_timezone(policy_file: Path | None) -> str:
    """The deadline policy's time zone: reports count months in the bank's local time."""
    return load_policy_document(policy_file).rules.timezone
