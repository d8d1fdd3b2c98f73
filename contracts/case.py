"""Messages the case workflow accepts and returns.

One input model per workflow, update and signal (docs/architecture.md, rule 6): fields can be added
with defaults without breaking running cases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from contracts.policy import ClockName, ComplaintOutcome, ResolvedPolicy

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
    # A payment made as a gesture, not as redress owed: regulators' returns count it
    # apart (the FCA's redress paid, goodwill included).
    GOODWILL = "goodwill"
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
    # Set only by the case itself when it continues as new.
    resume: CaseResume | None = None


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


class RegulatoryBand(BaseModel):
    """One time band of the regulator's return, as an instant fixed at intake."""

    name: str
    deadline: datetime


class RegulatoryView(BaseModel):
    """The regulator's side of a complaint (R9): its profile and regime, the return's
    band edges counted at intake (so a later calendar change never moves them), the
    extensions granted, and the classification and outcome of the final reply."""

    profile: str
    regime: str
    bands: list[RegulatoryBand] = Field(default_factory=list)
    extensions: list[str] = Field(default_factory=list)
    taxonomy: str | None = None
    taxonomy_version: str | None = None
    classification: dict[str, str] = Field(default_factory=dict)
    outcome: ComplaintOutcome | None = None
    replied_at: datetime | None = None


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
    # Set at intake of a complaint under a regulator profile (R9); None otherwise.
    regulatory: RegulatoryView | None = None
    # Events of earlier runs (the case continues as new when its history grows
    # long): they are in the register, and ``timeline`` holds those that follow.
    timeline_offset: int = 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the case's latest event."""
        return self.timeline_offset + len(self.timeline)


class CaseResume(BaseModel):
    """What a case carries into its next run when it continues as new: its whole
    state (with the timeline's events not yet in the register), the effects still
    queued, its policy, and the answers it gave to keyed requests, so a retry after
    the new run starts still gets the first answer (the server deduplicates update IDs
    within one run only)."""

    state: CaseState
    # Queued side effects, as ``workflows.effects.dump_effects`` writes them.
    effects: list[dict[str, Any]] = Field(default_factory=list)
    policy: ResolvedPolicy
    investigation_done: bool = False
    transferred_by: str | None = None
    manual_escalation: int = 0
    receipts: int = 0
    answers: dict[str, CaseState] = Field(default_factory=dict)


def case_workflow_id(case_id: str) -> str:
    """Workflow ID of a case: the case reference is what staff and customers quote."""
    return f"case-{case_id}"


class IntakeReceipt(BaseModel):
    """What ``confirm_intake`` answers: the case with its clocks, and whether this call
    was the first to see it (the API answers 201 for that one, 200 for retries)."""

    first: bool
    state: CaseState


CaseOpenInput.model_rebuild()
