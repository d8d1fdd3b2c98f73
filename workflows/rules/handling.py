"""First response and answers (R3.2, R3.3, R3.7), and notes: the agent's own steps."""

from __future__ import annotations

from datetime import datetime

from contracts.actions import (
    AcknowledgeBody,
    AcknowledgeInput,
    ActionName,
    AddNoteBody,
    AddNoteInput,
    AnswerBody,
    AnswerInput,
    UpdateCustomerBody,
    UpdateCustomerInput,
)
from contracts.activities import CustomerTemplate
from contracts.case import CaseKind, Stage
from contracts.policy import ClockName
from workflows.case_file import CaseFile, reject
from workflows.rules.table import ActionRule


def check_acknowledge(case: CaseFile, input: AcknowledgeInput, now: datetime) -> None:
    case.resolved_policy()
    case.require_stage("acknowledge", Stage.RECEIVED)


def apply_acknowledge(case: CaseFile, input: AcknowledgeInput, now: datetime) -> None:
    case.meet(ClockName.FIRST_RESPONSE, now=now)
    seq = case.record("acknowledged", at=now, actor=input.actor, detail=input.note)
    if case.kind is CaseKind.COMPLAINT and case.state.owner is not None:
        case.state.stage = Stage.INVESTIGATING
    else:
        case.state.stage = Stage.ACKNOWLEDGED
    case.notify_customer(CustomerTemplate.ACKNOWLEDGED, seq, agent=input.actor)


ACKNOWLEDGE = ActionRule(
    ActionName.ACKNOWLEDGE, AcknowledgeBody, AcknowledgeInput, check_acknowledge, apply_acknowledge
)


def check_answer(case: CaseFile, input: AnswerInput, now: datetime) -> None:
    case.resolved_policy()
    if case.kind is CaseKind.COMPLAINT:
        raise reject("a complaint is answered by its final reply, not a simple answer")
    case.require_stage("answer", Stage.RECEIVED, Stage.ACKNOWLEDGED)


def apply_answer(case: CaseFile, input: AnswerInput, now: datetime) -> None:
    case.meet(ClockName.FIRST_RESPONSE, now=now)
    seq = case.record("answered", at=now, actor=input.actor, detail=input.answer)
    case.state.stage = Stage.RESOLVED
    case.notify_customer(CustomerTemplate.ANSWERED, seq, answer=input.answer)


ANSWER = ActionRule(ActionName.ANSWER, AnswerBody, AnswerInput, check_answer, apply_answer)


def check_update_customer(case: CaseFile, input: UpdateCustomerInput, now: datetime) -> None:
    case.require_open()
    if case.state.stage is Stage.RECEIVED:
        raise reject("acknowledge the case before sending the customer an update")


def apply_update_customer(case: CaseFile, input: UpdateCustomerInput, now: datetime) -> None:
    seq = case.record("customer_updated", at=now, actor=input.actor, detail=input.message)
    case.notify_customer(CustomerTemplate.PROGRESS, seq, message=input.message)
    if case.state.stage is not Stage.AWAITING_CUSTOMER_UPDATE:
        return  # a progress note: the case stays where it is
    case.meet(ClockName.CUSTOMER_UPDATE, now=now)
    if case.kind is CaseKind.INQUIRY:
        case.state.stage = Stage.RESOLVED  # R3.7: the result has reached the customer
    elif case.investigation_done:
        case.state.stage = Stage.AWAITING_FINAL_REPLY
    else:
        case.state.stage = Stage.INVESTIGATING


UPDATE_CUSTOMER = ActionRule(
    ActionName.UPDATE_CUSTOMER,
    UpdateCustomerBody,
    UpdateCustomerInput,
    check_update_customer,
    apply_update_customer,
)


def check_add_note(case: CaseFile, input: AddNoteInput, now: datetime) -> None:
    """A note fits any case at any stage."""


def apply_add_note(case: CaseFile, input: AddNoteInput, now: datetime) -> None:
    case.record("note_added", at=now, actor=input.actor, detail=input.note)


ADD_NOTE = ActionRule(
    ActionName.ADD_NOTE, AddNoteBody, AddNoteInput, check_add_note, apply_add_note
)
