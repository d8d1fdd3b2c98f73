"""Request and response models of the HTTP API, one family per entity.

Action bodies are the workflow's own (``workflows.messages``: each update input is its
body plus ``actor``); the actor is the token's user (R2.2), so a body cannot record an
action in someone else's name.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from workflows.messages import (
    CaseKind,
    CaseState,
    Customer,
    Name,
    Priority,
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


# --- health ------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
