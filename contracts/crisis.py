"""Messages of the crisis monitor and the crisis incident workflows (R8).

One input model per workflow, activity, update and signal (docs/architecture.md,
rule 6); the workflows call the activities by the names below.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.activities import ActivityRef
from contracts.case import Name, Text

CaseIds = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field()]


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"


class RuleKind(StrEnum):
    SURGE = "surge"
    BREACH_STORM = "breach_storm"
    WATCH_LIST = "watch_list"
    MANUAL = "manual"


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class Match(BaseModel):
    """Which register events make a case a member: event types, case kinds (empty:
    any) and classification values (category, product, channel, department)."""

    types: list[str]
    kinds: list[str] = Field(default_factory=list)
    scope: dict[str, str] = Field(default_factory=dict)


class IncidentOpenInput(BaseModel):
    incident_id: str
    key: str
    rule: RuleKind
    title: Text
    explanation: Text
    severity: Severity
    match: Match | None = None
    opened_by: Name
    rules_version: str | None = None
    count: int | None = None
    expected: float | None = None


# --- the monitor ---------------------------------------------------------------------


class ActiveIncident(BaseModel):
    key: str
    incident_id: str
    match: Match
    # Members are cases with a matching event from here on.
    since: datetime
    # How the incident starts if it is not running yet.
    opener: IncidentOpenInput


class MonitorState(BaseModel):
    """What the monitor carries across continue-as-new: the incidents it feeds, the
    evaluation watermark, and per rule scope the generation of its latest incident
    and when that one closed (a new incident needs events after the close)."""

    active: dict[str, ActiveIncident] = Field(default_factory=dict)
    cursor: datetime | None = None
    generation: dict[str, int] = Field(default_factory=dict)
    quiet_since: dict[str, datetime] = Field(default_factory=dict)
    evaluations: int = 0


class MonitorInput(BaseModel):
    state: MonitorState = Field(default_factory=MonitorState)
    # Continue-as-new after this many evaluations even if the server does not ask.
    max_iterations: int = Field(default=500, ge=1)
    # The start of every incident's workflow ID (tests keep theirs apart with it).
    id_prefix: str = "crisis"


class EvaluationInput(BaseModel):
    now: datetime
    cursor: datetime | None
    active: list[ActiveIncident]
    quiet_since: dict[str, datetime]


class Firing(BaseModel):
    """A rule that fired for one scope, with the words a supervisor reads."""

    key: str
    rule: RuleKind
    title: str
    explanation: str
    severity: Severity
    match: Match
    since: datetime
    count: int
    expected: float | None = None
    p_value: float | None = None


class EvaluationResult(BaseModel):
    rules_version: str
    evaluate_every: timedelta
    firings: list[Firing]
    # New member cases per key (firing or active incident).
    members: dict[str, list[str]]


# --- the incident --------------------------------------------------------------------


class AddMembersInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_ids: CaseIds
    actor: Name = "crisis-monitor"


class OpenOrJoinInput(BaseModel):
    open: IncidentOpenInput
    case_ids: list[str]


class OpenOrJoinResult(BaseModel):
    # "open": the incident took the cases; "closed": it has closed, start anew.
    status: str


class IncidentActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcknowledgeIncidentBody(IncidentActionBody):
    note: str | None = None


class AcknowledgeIncidentInput(AcknowledgeIncidentBody):
    actor: Name


class StatusUpdateBody(IncidentActionBody):
    message: Text


class StatusUpdateInput(StatusUpdateBody):
    actor: Name


class NotifyCustomersInput(IncidentActionBody):
    actor: Name


class ReviewBody(IncidentActionBody):
    """The post-incident review: cause and what is done about it. The impact figures
    are computed from the register when the incident closes."""

    cause: Text
    remedies: str | None = None
    improvement_actions: list[Text] = Field(default_factory=list)


class CloseIncidentInput(ReviewBody):
    actor: Name


class Impact(BaseModel):
    cases: int
    customers: int
    breaches: int
    remedies: int
    remedy_amount: Decimal


class Review(BaseModel):
    cause: str
    remedies: str | None
    improvement_actions: list[str]
    impact: Impact
    closed_by: str
    closed_at: datetime


class StatusUpdate(BaseModel):
    at: datetime
    actor: str
    message: str


class IncidentState(BaseModel):
    """The incident as ``get_state`` and every update return it."""

    incident_id: str
    key: str
    rule: RuleKind
    title: str
    explanation: str
    severity: Severity
    status: IncidentStatus
    opened_at: datetime
    opened_by: str
    rules_version: str | None
    commander: str | None = None
    acknowledged_at: datetime | None = None
    escalation_level: int = 0
    updates: list[StatusUpdate] = Field(default_factory=list)
    next_update_due: datetime | None = None
    members: list[str] = Field(default_factory=list)
    linked: int = 0
    holding_requested_at: datetime | None = None
    holding_done: int = 0
    holding_sent: int = 0
    review: Review | None = None
    closed_at: datetime | None = None


class LinkMembersInput(BaseModel):
    incident_id: str
    title: str
    case_ids: list[str]


class BatchResult(BaseModel):
    done: int
    skipped: int


class HoldingBatchInput(BaseModel):
    incident_id: str
    case_ids: list[str]


class IncidentRef(BaseModel):
    incident_id: str


class IncidentStaffInput(BaseModel):
    incident_id: str
    title: str


# The incident workflow's type and its signal for new members, as activities start it.
INCIDENT_WORKFLOW = "CrisisIncidentWorkflow"
ADD_MEMBERS = "add_members"

EVALUATE_CRISIS_RULES = ActivityRef("evaluate_crisis_rules", EvaluationInput, EvaluationResult)
OPEN_OR_JOIN_INCIDENT = ActivityRef("open_or_join_incident", OpenOrJoinInput, OpenOrJoinResult)
LINK_INCIDENT_MEMBERS = ActivityRef("link_incident_members", LinkMembersInput, BatchResult)
SEND_INCIDENT_HOLDING = ActivityRef("send_incident_holding", HoldingBatchInput, BatchResult)
COMPUTE_INCIDENT_IMPACT = ActivityRef("compute_incident_impact", IncidentRef, Impact)
NOTIFY_INCIDENT_OWNERS = ActivityRef("notify_incident_owners", IncidentStaffInput, BatchResult)
# ``load_incident_rules`` returns the rules file's ``policy.crisis.IncidentRules``.
LOAD_INCIDENT_RULES_NAME = "load_incident_rules"
