"""Types of the deadline policy once resolved for one case.

The resolved policy travels into the case workflow through an activity result, so it
lands in history: a running case keeps the policy it started with, whatever the file
says later.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClockName(StrEnum):
    """The plan's clocks (R3.2, R3.5, R3.6, R3.7, R4.3, R4.4, R6.1)."""

    FIRST_RESPONSE = "first_response"
    DEPARTMENT_PLAN = "department_plan"
    DEPARTMENT_RESULT = "department_result"
    CUSTOMER_UPDATE = "customer_update"
    INVESTIGATION = "investigation"
    FINAL_REPLY = "final_reply"
    SURVEY = "survey"


# Clocks that start at receipt (or reopen), where the workflow counts working days in an
# activity; the others start mid-case and are durations.
WORKING_DAY_CLOCKS = frozenset(
    {ClockName.FIRST_RESPONSE, ClockName.INVESTIGATION, ClockName.FINAL_REPLY}
)


class ClockRule(BaseModel):
    """How long one clock runs: a fixed duration or a number of working days."""

    model_config = ConfigDict(frozen=True)

    duration: timedelta | None = None
    working_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> ClockRule:
        if (self.duration is None) == (self.working_days is None):
            raise ValueError("a clock is either a duration or a number of working days")
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("a clock's duration must be positive")
        return self


class ResolvedPolicy(BaseModel):
    """The policy for one case kind and priority, as the case workflow uses it."""

    model_config = ConfigDict(frozen=True)

    version: str
    timezone: str = "Asia/Shanghai"
    calendar: str = "CN"
    subdivision: str | None = None
    warning_share: float = Field(default=0.8, gt=0, lt=1)
    escalation_ladder: list[str] = Field(
        default_factory=lambda: ["team_lead", "supervisor", "branch_manager"]
    )
    escalation_interval: timedelta = timedelta(hours=2)
    reopen_window: timedelta = timedelta(days=14)
    remedy_approval_threshold: Decimal = Decimal("500")
    currency: str = "CNY"
    clocks: dict[ClockName, ClockRule]
    departments: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _working_days_only_where_counted(self) -> ResolvedPolicy:
        for name, rule in self.clocks.items():
            if rule.working_days is not None and name not in WORKING_DAY_CLOCKS:
                allowed = ", ".join(sorted(c.value for c in WORKING_DAY_CLOCKS))
                raise ValueError(
                    f"clocks.{name.value}: must be a duration; working days are for {allowed}"
                )
        return self
