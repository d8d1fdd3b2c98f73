"""Messages the case workflow accepts and returns.

One input model per workflow, update and signal (DESIGN rule 6): fields can be added
with defaults without breaking running cases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from policy.model import ClockName

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class CaseKind(StrEnum):
    INQUIRY = "inquiry"
    COMPLAINT = "complaint"


class Priority(StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Stage(StrEnum):
    """Where a case stands; the register's progress mark (R4.1)."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    AWAITING_DEPARTMENT_PLAN = "awaiting_department_plan"
    AWAITING_DEPARTMENT_RESULT = "awaiting_department_result"
    AWAITING_CUSTOMER_UPDATE = "awaiting_customer_update"
    INVESTIGATING = "investigating"
    AWAITING_FINAL_REPLY = "awaiting_final_reply"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ClockStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    # Customer-side windows (the survey) lapse rather than breach: nobody is late.
    EXPIRED = "expired"


class RemedyKind(StrEnum):
    COMPENSATION = "compensation"
    FEE_REFUND = "fee_refund"
    DISCOUNT = "discount"
    APOLOGY = "apology"
    OTHER = "other"


class RemedyStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class Customer(BaseModel):
    """Personal data: encrypted by the payload codec before it reaches Temporal."""

    id: Name
    name: Name
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 \-]{5,20}$")] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    language: Language = Language.ZH


class CaseOpenInput(BaseModel):
    """Intake (R3.1): what the frontline system knows when the customer comes in."""

    case_id: str
    kind: CaseKind
    channel: Name
    customer: Customer
    category: Name
    product: Name | None = None
    priority: Priority = Priority.NORMAL
    description: Text
    opened_by: Name
    received_at: datetime | None = None


# --- handler actions (updates, and the same as signals) ------------------------------
# Each action is a body (what the handler says; the HTTP API's request body) plus the
# actor (who said it; the API takes it from the caller's token, never from the body).


class ActionBody(BaseModel):
    """Unknown fields are refused, so a misspelt field is an error, not silently lost."""

    model_config = ConfigDict(extra="forbid")


class Action(ActionBody):
    """Every handler action names who did it; the timeline records that name."""

    actor: Name


class AcknowledgeBody(ActionBody):
    note: str | None = None


class AcknowledgeInput(AcknowledgeBody, Action):
    pass


class AnswerBody(ActionBody):
    answer: Text


class AnswerInput(AnswerBody, Action):
    pass


class TransferBody(ActionBody):
    department: Name
    reason: Text


class TransferInput(TransferBody, Action):
    pass


class DepartmentPlanBody(ActionBody):
    plan: Text


class DepartmentPlanInput(DepartmentPlanBody, Action):
    # Set when a department's own staff act: refused unless the case is with it.
    department: Name | None = None


class DepartmentResultBody(ActionBody):
    result: Text


class DepartmentResultInput(DepartmentResultBody, Action):
    # Set when a department's own staff act: refused unless the case is with it.
    department: Name | None = None


class CustomerUpdateBody(ActionBody):
    message: Text


class CustomerUpdateInput(CustomerUpdateBody, Action):
    pass


class AssignOwnerBody(ActionBody):
    owner: Name
    reason: str | None = None


class AssignOwnerInput(AssignOwnerBody, Action):
    pass


class InvestigationBody(ActionBody):
    findings: Text
    upheld: bool = True


class InvestigationInput(InvestigationBody, Action):
    pass


class ProposeRemedyBody(ActionBody):
    kind: RemedyKind
    description: Text
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


class ProposeRemedyInput(ProposeRemedyBody, Action):
    pass


class RemedyDecisionBody(ActionBody):
    approve: bool = True
    reason: str | None = None


class ApproveRemedyInput(RemedyDecisionBody, Action):
    remedy_id: str


class FinalReplyBody(ActionBody):
    reply: Text


class FinalReplyInput(FinalReplyBody, Action):
    pass


class CloseBody(ActionBody):
    reason: str | None = None


class CloseInput(CloseBody, Action):
    pass


class ReopenBody(ActionBody):
    reason: Text


class ReopenInput(ReopenBody, Action):
    pass


class FeedbackBody(ActionBody):
    score: int = Field(ge=1, le=5)
    comment: str | None = None


class FeedbackInput(FeedbackBody, Action):
    pass


class ExtendClockBody(ActionBody):
    """Either a duration (ISO 8601, e.g. ``PT4H``) or a number of working days."""

    # Bounded: an extension is days or weeks, never an accident of units.
    by: timedelta | None = Field(default=None, gt=timedelta(0), le=timedelta(days=90))
    working_days: int | None = Field(default=None, ge=1, le=60)
    reason: Text


class ExtendClockInput(ExtendClockBody, Action):
    clock: ClockName


class PauseClockBody(ActionBody):
    reason: Text


class PauseClockInput(PauseClockBody, Action):
    clock: ClockName


class ResumeClockBody(ActionBody):
    reason: str | None = None


class ResumeClockInput(ResumeClockBody, Action):
    clock: ClockName


class EscalateBody(ActionBody):
    reason: Text


class EscalateInput(EscalateBody, Action):
    pass


class NoteBody(ActionBody):
    note: Text


class NoteInput(NoteBody, Action):
    pass


# --- what the case shows ---------------------------------------------------------------


class ClockView(BaseModel):
    name: ClockName
    status: ClockStatus
    started_at: datetime
    deadline: datetime | None
    warn_at: datetime | None = None
    # How long before the deadline the warning falls; kept through pauses and extensions.
    warning_lead: timedelta | None = None
    remaining_when_paused: timedelta | None = None
    warned: bool = False
    breached_at: datetime | None = None
    met_at: datetime | None = None
    escalation_level: int = 0
    extensions: int = 0


class TimelineEvent(BaseModel):
    seq: int
    type: str
    at: datetime
    actor: str
    detail: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Remedy(BaseModel):
    remedy_id: str
    kind: RemedyKind
    description: str
    amount: Decimal | None = None
    currency: str = "CNY"
    status: RemedyStatus
    proposed_by: str
    decided_by: str | None = None
    decided_at: datetime | None = None


class Feedback(BaseModel):
    score: int
    comment: str | None = None
    at: datetime


class IncidentLink(BaseModel):
    """A crisis incident the case belongs to (R8), shown on the case."""

    incident_id: str
    title: str
    joined_at: datetime
    holding_sent_at: datetime | None = None


class CaseState(BaseModel):
    """The whole case, as the ``get_state`` query and every update return it."""

    case_id: str
    kind: CaseKind
    channel: str
    category: str
    product: str | None
    priority: Priority
    customer_id: str
    stage: Stage
    owner: str | None = None
    department: str | None = None
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None = None
    reopen_until: datetime | None = None
    policy_version: str | None = None
    clocks: dict[ClockName, ClockView] = Field(default_factory=dict)
    escalation_level: int = 0
    breached: bool = False
    remedies: list[Remedy] = Field(default_factory=list)
    feedback: Feedback | None = None
    timeline: list[TimelineEvent] = Field(default_factory=list)
    incidents: list[IncidentLink] = Field(default_factory=list)


class IntakeReceipt(BaseModel):
    """What ``confirm_intake`` answers: the case with its clocks, and whether this call
    was the first to see it (the API answers 201 for that one, 200 for retries)."""

    first: bool
    state: CaseState


# --- crisis incidents: actions the incident workflow sends its member cases (R8) -----


class JoinIncidentInput(Action):
    incident_id: Name
    title: Text


class IncidentHoldingInput(Action):
    incident_id: Name
