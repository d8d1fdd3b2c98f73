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
    # The regulator's limit for the final response (R9), beside the bank's own
    # ``final_reply``: set by the policy's ``[regulator]`` table, not by ``[clocks]``.
    REGULATOR_REPLY = "regulator_reply"


# The plan's clocks, which every policy file sets in ``[clocks]``.
PLAN_CLOCKS: tuple[ClockName, ...] = tuple(
    c for c in ClockName if c is not ClockName.REGULATOR_REPLY
)

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


class ComplaintOutcome(StrEnum):
    """What the final reply decided (DISP 1 Annex 1's "upheld"; NFRA's 处理决定)."""

    UPHELD = "upheld"
    PARTLY_UPHELD = "partly_upheld"
    REJECTED = "rejected"


class ReportingPeriod(StrEnum):
    """The periods a regulator's return covers."""

    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"


class RegulatorExtension(BaseModel):
    """One step beyond the regulator's first limit: an explicit action, with an
    approver and the customer told where the rule demands it. ``limit`` counts from
    receipt (the total allowed), as the rules word it ("extendable to 30 days")."""

    model_config = ConfigDict(frozen=True)

    name: str
    limit: ClockRule
    needs_approval: bool = False
    notify_customer: bool = True
    source: str = ""


class RegulatorRegime(BaseModel):
    """The limit for complaints about some products (or categories); a regime with
    neither list applies to every complaint no earlier regime took."""

    model_config = ConfigDict(frozen=True)

    name: str
    products: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    limit: ClockRule
    extensions: list[RegulatorExtension] = Field(default_factory=list)
    source: str = ""

    def applies_to(self, product: str | None, category: str) -> bool:
        if not self.products and not self.categories:
            return True
        return product in self.products or category in self.categories


class TimeBand(BaseModel):
    """A band of the periodic return: closed within ``within`` of receipt."""

    model_config = ConfigDict(frozen=True)

    name: str
    within: ClockRule


class TaxonomyCodes(BaseModel):
    """The codes a complaint is classified by (each axis, its codes), carried in the
    case's policy so the final reply is checked by the case itself."""

    model_config = ConfigDict(frozen=True)

    taxonomy: str
    version: str
    axes: dict[str, list[str]]


class RegulatorRules(BaseModel):
    """A regulator profile as one case runs under it (R9)."""

    model_config = ConfigDict(frozen=True)

    profile: str
    authority: str
    regimes: list[RegulatorRegime] = Field(min_length=1)
    bands: list[TimeBand] = Field(default_factory=list)
    periods: list[ReportingPeriod] = Field(default_factory=list)
    taxonomy: TaxonomyCodes | None = None
    # A final reply sent within this band is a summary resolution communication
    # (DISP 1.5.4R) rather than a final response.
    summary_resolution_band: str | None = None

    def regime_for(self, product: str | None, category: str) -> RegulatorRegime:
        for regime in self.regimes:
            if regime.applies_to(product, category):
                return regime
        return self.regimes[-1]


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
    # A case continues as new before one run's history reaches this many events (or
    # when the server suggests it), far below the server's hard limit of 51,200.
    history_budget: int = Field(default=10_000, ge=200, le=40_000)
    # The regulator's clocks and classification (R9); None under the plan alone.
    regulator: RegulatorRules | None = None

    @model_validator(mode="after")
    def _working_days_only_where_counted(self) -> ResolvedPolicy:
        for name, rule in self.clocks.items():
            if rule.working_days is not None and name not in WORKING_DAY_CLOCKS:
                allowed = ", ".join(sorted(c.value for c in WORKING_DAY_CLOCKS))
                raise ValueError(
                    f"clocks.{name.value}: must be a duration; working days are for {allowed}"
                )
        return self
