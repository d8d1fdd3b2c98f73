"""The handler actions a case accepts: one body and one input model per action.

Each action is a body (what the handler says; the HTTP API's request body) plus the
actor (who said it; the API takes it from the caller's token, never from the body).
Every action has one name across the layers: the ``ActionName`` value is the update
and signal name, ``<Name>Body`` the API's request body and ``<Name>Input`` the update's
input (one input model per update, so fields can be added without breaking running
cases).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.case import Name, RemedyKind, Text
from contracts.policy import ClockName, ComplaintOutcome


class ActionName(StrEnum):
    """Every handler action; the value is its update and signal name."""

    ACKNOWLEDGE = "acknowledge"
    ANSWER = "answer"
    TRANSFER = "transfer"
    RECORD_DEPARTMENT_PLAN = "record_department_plan"
    RECORD_DEPARTMENT_RESULT = "record_department_result"
    UPDATE_CUSTOMER = "update_customer"
    ASSIGN_OWNER = "assign_owner"
    RECORD_INVESTIGATION = "record_investigation"
    PROPOSE_REMEDY = "propose_remedy"
    DECIDE_REMEDY = "decide_remedy"
    SEND_FINAL_REPLY = "send_final_reply"
    CLOSE = "close"
    REOPEN = "reopen"
    RECORD_FEEDBACK = "record_feedback"
    EXTEND_CLOCK = "extend_clock"
    PAUSE_CLOCK = "pause_clock"
    RESUME_CLOCK = "resume_clock"
    ESCALATE = "escalate"
    ADD_NOTE = "add_note"
    EXTEND_REGULATOR_CLOCK = "extend_regulator_clock"
    JOIN_INCIDENT = "join_incident"
    SEND_INCIDENT_HOLDING = "send_incident_holding"


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


class RecordDepartmentPlanBody(ActionBody):
    plan: Text


class RecordDepartmentPlanInput(RecordDepartmentPlanBody, Action):
    # Set when a department's own staff act: refused unless the case is with it.
    department: Name | None = None


class RecordDepartmentResultBody(ActionBody):
    result: Text


class RecordDepartmentResultInput(RecordDepartmentResultBody, Action):
    # Set when a department's own staff act: refused unless the case is with it.
    department: Name | None = None


class UpdateCustomerBody(ActionBody):
    message: Text


class UpdateCustomerInput(UpdateCustomerBody, Action):
    pass


class AssignOwnerBody(ActionBody):
    owner: Name
    reason: str | None = None


class AssignOwnerInput(AssignOwnerBody, Action):
    pass


class RecordInvestigationBody(ActionBody):
    findings: Text
    upheld: bool = True


class RecordInvestigationInput(RecordInvestigationBody, Action):
    pass


class ProposeRemedyBody(ActionBody):
    kind: RemedyKind
    description: Text
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


class ProposeRemedyInput(ProposeRemedyBody, Action):
    pass


class DecideRemedyBody(ActionBody):
    approve: bool = True
    reason: str | None = None


class DecideRemedyInput(DecideRemedyBody, Action):
    remedy_id: str


class SendFinalReplyBody(ActionBody):
    reply: Text
    # The complaint's classification, one code per axis of the profile's taxonomy,
    # and the outcome (R9): required under a regulator profile that has them.
    classification: dict[str, Name] | None = None
    outcome: ComplaintOutcome | None = None


class SendFinalReplyInput(SendFinalReplyBody, Action):
    pass


class CloseBody(ActionBody):
    reason: str | None = None


class CloseInput(CloseBody, Action):
    pass


class ReopenBody(ActionBody):
    reason: Text


class ReopenInput(ReopenBody, Action):
    pass


class RecordFeedbackBody(ActionBody):
    score: int = Field(ge=1, le=5)
    comment: str | None = None


class RecordFeedbackInput(RecordFeedbackBody, Action):
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


class AddNoteBody(ActionBody):
    note: Text


class AddNoteInput(AddNoteBody, Action):
    pass


class ExtendRegulatorClockBody(ActionBody):
    """The next extension the regulator's rule allows (``complex``,
    ``holding_reply``, ...), with the senior approver where the rule demands one."""

    extension: Name
    reason: Text
    approved_by: Name | None = None


class ExtendRegulatorClockInput(ExtendRegulatorClockBody, Action):
    pass


# --- crisis incidents: actions an incident sends its member cases (R8) ---------------


class JoinIncidentBody(ActionBody):
    incident_id: Name
    title: Text


class JoinIncidentInput(JoinIncidentBody, Action):
    pass


class SendIncidentHoldingBody(ActionBody):
    incident_id: Name


class SendIncidentHoldingInput(SendIncidentHoldingBody, Action):
    pass
