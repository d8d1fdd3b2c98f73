"""Request and response models of the HTTP API, one family per entity.

Action bodies are the workflow's own (``contracts.actions``: each update input is its
body plus ``actor``); the actor is the token's user (R2.2), so a body cannot record an
action in someone else's name.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from contracts.case import (
    CaseKind,
    CaseState,
    ClockStatus,
    ClockView,
    Customer,
    Feedback,
    IncidentLink,
    Name,
    Priority,
    RegulatoryView,
    Remedy,
    Stage,
    Text,
    TimelineEvent,
)
from contracts.policy import ClockName


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


class ClockPublic(BaseModel):
    """One clock as a client sees it: when it started, when it is due, how it stands.

    The workflow's own bookkeeping (the warning's lead, whether it has warned) stays
    inside the workflow."""

    name: ClockName
    status: ClockStatus
    started_at: datetime
    deadline: datetime | None
    warn_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    escalation_level: int
    extensions: int
    # Whole seconds the clock had left when it was paused (null unless paused).
    paused_remaining_seconds: int | None

    @classmethod
    def from_clock(cls, clock: ClockView) -> ClockPublic:
        remaining = clock.remaining_when_paused
        return cls(
            name=clock.name,
            status=clock.status,
            started_at=clock.started_at,
            deadline=clock.deadline,
            warn_at=clock.warn_at,
            breached_at=clock.breached_at,
            met_at=clock.met_at,
            escalation_level=clock.escalation_level,
            extensions=clock.extensions,
            paused_remaining_seconds=None if remaining is None else int(remaining.total_seconds()),
        )


class CasePublic(BaseModel):
    """The live case, from the workflow: stage, owner, clocks, remedies, timeline.

    An explicit model, apart from the workflow's state, so that only what a client
    should rely on is part of the API."""

    case_id: str
    kind: CaseKind
    channel: str
    category: str
    product: str | None
    priority: Priority
    customer_id: str
    stage: Stage
    owner: str | None
    department: str | None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    reopen_until: datetime | None
    policy_version: str | None
    clocks: dict[ClockName, ClockPublic]
    escalation_level: int
    breached: bool
    remedies: list[Remedy]
    feedback: Feedback | None
    timeline: list[TimelineEvent]
    # Crisis incidents the case belongs to (R8).
    incidents: list[IncidentLink]
    # The regulator's side of a complaint under a regulator preset (R9): profile,
    # regime, the return's band edges, extensions granted, classification, outcome.
    regulatory: RegulatoryView | None = None

    @classmethod
    def from_state(cls, state: CaseState) -> CasePublic:
        return cls(
            **state.model_dump(include=_CASE_FIELDS),
            clocks={name: ClockPublic.from_clock(c) for name, c in state.clocks.items()},
            remedies=state.remedies,
            feedback=state.feedback,
            timeline=state.timeline,
            incidents=state.incidents,
            regulatory=state.regulatory,
        )


_CASE_FIELDS = {
    "case_id",
    "kind",
    "channel",
    "category",
    "product",
    "priority",
    "customer_id",
    "stage",
    "owner",
    "department",
    "opened_at",
    "opened_by",
    "closed_at",
    "reopen_until",
    "policy_version",
    "escalation_level",
    "breached",
}


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


# --- health ------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
