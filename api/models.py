"""Request and response models of the HTTP API, one family per entity.

Action bodies mirror the workflow's update inputs without ``actor``: the actor is the
token's user (R2.2), so a body cannot record an action in someone else's name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from workflows.messages import (
    CaseKind,
    CaseState,
    Customer,
    Name,
    Priority,
    RemedyKind,
    Stage,
    Text,
)


class _Body(BaseModel):
    """Unknown fields are refused, so a misspelt field is a 422, not silently lost."""

    model_config = ConfigDict(extra="forbid")


# --- cases -------------------------------------------------------------------------------


class CaseCreate(_Body):
    """Intake from a frontline system (R3.1); ``channel`` is one of the configured
    channels (R1.1)."""

    kind: CaseKind
    channel: Name
    customer: Customer
    category: Name
    product: Name | None = None
    priority: Priority = Priority.NORMAL
    description: Text


class CasePublic(CaseState):
    """The live case, straight from the workflow: stage, owner, clocks, timeline."""


class CaseSummary(BaseModel):
    """One row of the case register (R4.1)."""

    case_id: str
    kind: CaseKind
    channel: str
    category: str
    product: str | None
    priority: Priority
    stage: Stage
    owner: str | None
    department: str | None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    breached: bool
    escalation_level: int
    next_deadline: datetime | None


class CaseListPublic(BaseModel):
    """A page of the register and how many rows match in all."""

    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


class StuckCase(BaseModel):
    case_id: str
    stage: Stage | None


class StuckCaseList(BaseModel):
    """Cases a Temporal visibility query found, and the query, to paste into the Web UI."""

    stuck: str
    query: str
    items: list[StuckCase]


# --- actions -----------------------------------------------------------------------------


class AcknowledgeBody(_Body):
    note: str | None = None


class AnswerBody(_Body):
    answer: Text


class TransferBody(_Body):
    department: Name
    reason: Text


class DepartmentPlanBody(_Body):
    plan: Text


class DepartmentResultBody(_Body):
    result: Text


class CustomerUpdateBody(_Body):
    message: Text


class AssignBody(_Body):
    owner: Name
    reason: str | None = None


class InvestigationBody(_Body):
    findings: Text
    upheld: bool = True


class RemedyCreate(_Body):
    kind: RemedyKind
    description: Text
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"


class RemedyDecision(_Body):
    approve: bool = True
    reason: str | None = None


class ReplyBody(_Body):
    reply: Text


class CloseBody(_Body):
    reason: str | None = None


class ReopenBody(_Body):
    reason: Text


class FeedbackCreate(_Body):
    score: int = Field(ge=1, le=5)
    comment: str | None = None


class ClockExtension(_Body):
    """Either a duration (ISO 8601, e.g. ``PT4H``, or seconds) or working days."""

    by: timedelta | None = None
    working_days: int | None = Field(default=None, ge=1, le=60)
    reason: Text


class ClockPause(_Body):
    reason: Text


class ClockResume(_Body):
    reason: str | None = None


class EscalateBody(_Body):
    reason: Text


class NoteCreate(_Body):
    note: Text


# --- health ------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
