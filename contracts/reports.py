"""Inputs and results of the report workflows and their activities (DESIGN rule 6)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from contracts.activities import ActivityRef
from contracts.people import PeopleRules
from contracts.periods import ReportKind


class ReportWorkflowInput(BaseModel):
    """``period`` (``yyyy-mm`` / ``yyyy-Qn``) for an on-demand run; a scheduled run
    leaves it out and reports on the period before its scheduled time, counted in
    ``timezone`` (the policy's)."""

    period: str | None = None
    timezone: str | None = None
    requested_by: str | None = None


class ReportRunInput(BaseModel):
    kind: ReportKind
    period: str
    # The workflow run: a retried activity stores its revision once.
    run_key: str
    requested_by: str | None = None


class ReportStored(BaseModel):
    kind: ReportKind
    period: str
    revision: int


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
    # Agents, training and improvement actions (R5, R6.3): the file's [people] table.
    people: PeopleRules


# The report workflows call these activities by name.
BUILD_MONTHLY_REPORT = ActivityRef("build_monthly_report", ReportRunInput, ReportStored)
BUILD_QUARTERLY_REPORT = ActivityRef("build_quarterly_report", ReportRunInput, ReportStored)
