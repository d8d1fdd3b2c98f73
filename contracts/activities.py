"""The activities' names, inputs and results: one model each, so fields can be added
without breaking running cases.

The case workflow calls activities by the names below, never by importing the
functions: the workflows package does not depend on the code that does the I/O, and
the worker registers each function under the same name (checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from contracts.case import (
    CaseKind,
    ClockView,
    Customer,
    Priority,
    RegulatoryView,
    Remedy,
    Stage,
    TimelineEvent,
)
from contracts.policy import ClockName, ResolvedPolicy


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

    @classmethod
    def under(cls, policy: ResolvedPolicy, start: datetime, days: int) -> ComputeDeadlineInput:
        """``days`` working days from ``start`` on the policy's calendar and zone."""
        return cls(
            start=start,
            working_days=days,
            timezone=policy.timezone,
            calendar=policy.calendar,
            subdivision=policy.subdivision,
        )


class DeadlineResult(BaseModel):
    deadline: datetime
    # The bank's calendar overlay counted with, if any (recorded for audit).
    overlay_version: str | None = None


class ResolveIntakeInput(BaseModel):
    """Intake in one local activity: the case's policy, and the deadlines of those of
    its receipt clocks that count working days, all from ``start``."""

    kind: CaseKind
    priority: Priority
    start: datetime
    clocks: list[ClockName]


class IntakeResolution(BaseModel):
    policy: ResolvedPolicy
    # Only the working-day clocks: a duration clock's deadline is the workflow's sum.
    deadlines: dict[ClockName, DeadlineResult] = Field(default_factory=dict)


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
    regulatory: RegulatoryView | None = None


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
    REGULATOR_EXTENSION = "regulator_extension"
    SUMMARY_RESOLUTION = "summary_resolution"


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


InputT = TypeVar("InputT")
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class ActivityRef(Generic[InputT, ResultT]):
    """An activity as the workflow knows it: the name it is registered under (and
    recorded in history) with its input and result types."""

    name: str
    input: type[InputT]
    result: type[ResultT]


RESOLVE_CASE_POLICY = ActivityRef("resolve_case_policy", ResolvePolicyInput, ResolvedPolicy)
COMPUTE_DEADLINE = ActivityRef("compute_deadline", ComputeDeadlineInput, DeadlineResult)
RESOLVE_CASE_INTAKE = ActivityRef("resolve_case_intake", ResolveIntakeInput, IntakeResolution)
RECORD_CASE_PROGRESS = ActivityRef("record_case_progress", CaseProgressInput, type(None))
DISPATCH_TO_DEPARTMENT = ActivityRef(
    "dispatch_to_department", DepartmentDispatchInput, DeliveryResult
)
NOTIFY_CUSTOMER = ActivityRef("notify_customer", CustomerNotificationInput, DeliveryResult)
NOTIFY_STAFF = ActivityRef("notify_staff", StaffNotificationInput, DeliveryResult)
RECORD_REMEDY = ActivityRef("record_remedy", RemedyRecordInput, LedgerResult)
RECORD_FEEDBACK = ActivityRef("record_feedback", FeedbackRecordInput, type(None))

# Every activity the case workflow calls: the worker registers a function for each.
CASE_ACTIVITIES: tuple[ActivityRef[Any, Any], ...] = (
    RESOLVE_CASE_POLICY,
    COMPUTE_DEADLINE,
    RESOLVE_CASE_INTAKE,
    RECORD_CASE_PROGRESS,
    DISPATCH_TO_DEPARTMENT,
    NOTIFY_CUSTOMER,
    NOTIFY_STAFF,
    RECORD_REMEDY,
    RECORD_FEEDBACK,
)
