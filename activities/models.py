"""Inputs and results of the activities: one model each (DESIGN rule 6)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from policy.model import ClockName
from workflows.messages import (
    CaseKind,
    ClockView,
    Customer,
    Priority,
    Remedy,
    Stage,
    TimelineEvent,
)


class ResolvePolicyInput(BaseModel):
    kind: CaseKind
    priority: Priority


class ComputeDeadlineInput(BaseModel):
    """A working-day clock: ends at the midnight closing the Nth working day after
    the day ``start`` falls on, in ``timezone``."""

    start: datetime
    working_days: int = Field(ge=1)
    timezone: str
    calendar: str
    subdivision: str | None = None


class DeadlineResult(BaseModel):
    deadline: datetime


class CaseSnapshot(BaseModel):
    """The register's row for one case: a projection of the workflow's state."""

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
    breached: bool
    escalation_level: int
    next_deadline: datetime | None
    policy_version: str | None
    clocks: dict[ClockName, ClockView]


class CaseProgressInput(BaseModel):
    """Snapshot plus the timeline events not yet projected; writing it twice stores
    each event once (events are keyed by case and sequence number)."""

    snapshot: CaseSnapshot
    events: list[TimelineEvent]


class DepartmentDispatchInput(BaseModel):
    dispatch_id: str
    case_id: str
    department: str
    kind: CaseKind
    category: str
    product: str | None
    priority: Priority
    description: str
    reason: str
    requested_by: str
    requested_at: datetime


class CustomerTemplate(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    TRANSFERRED = "transferred"
    PROGRESS = "progress"
    FINAL_REPLY = "final_reply"
    CLOSED_SURVEY = "closed_survey"
    REOPENED = "reopened"
    HOLDING = "holding"
    INCIDENT_HOLDING = "incident_holding"


class CustomerNotificationInput(BaseModel):
    notification_id: str
    case_id: str
    customer: Customer
    template: CustomerTemplate
    params: dict[str, str] = Field(default_factory=dict)


class StaffAlertKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    CRISIS = "crisis"


class StaffNotificationInput(BaseModel):
    notification_id: str
    case_id: str
    kind: StaffAlertKind
    clock: ClockName | None
    recipient_role: str
    recipient_user: str | None = None
    department: str | None = None
    level: int = 0
    deadline: datetime | None = None
    message: str


class RemedyRecordInput(BaseModel):
    case_id: str
    customer_id: str
    remedy: Remedy


class FeedbackRecordInput(BaseModel):
    feedback_id: str
    case_id: str
    kind: CaseKind
    channel: str
    category: str
    owner: str | None
    score: int = Field(ge=1, le=5)
    comment: str | None = None
    at: datetime


class DeliveryResult(BaseModel):
    """How a notification or dispatch went out: ``outbox``/``register`` when stored for
    a poller, ``http``/``smtp`` when delivered by an adapter."""

    via: str
    detail: str | None = None


class LedgerResult(BaseModel):
    recorded: bool
    amount: Decimal | None = None
