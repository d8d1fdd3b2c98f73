"""The stage transitions of the action table, as data.

The apply functions move a case from stage to stage; this table says the same thing
explicitly, so the staff flow charts (``docs_gen.flowcharts``, R7.1) are drawn from it.
``tests/test_transitions.py`` applies every action in every stage of every case kind
and checks the result against this table, so the charts cannot drift from the rules.
Actions that never move a case (notes, clock changes, remedies, escalation) are not
listed; the test checks that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.actions import ActionName
from contracts.case import CaseKind, Stage


class Guard(StrEnum):
    """A condition on the case, besides its stage, that picks the target stage."""

    NONE = ""
    OWNER_ASSIGNED = "owner assigned"
    NO_OWNER = "no owner yet"
    INVESTIGATION_DONE = "investigation recorded"
    INVESTIGATION_PENDING = "investigation pending"


@dataclass(frozen=True)
class Transition:
    """``action`` moves a case of ``kind`` from any of ``sources`` to ``target``."""

    kind: CaseKind
    action: ActionName
    sources: tuple[Stage, ...]
    target: Stage
    guard: Guard = Guard.NONE


_I, _C = CaseKind.INQUIRY, CaseKind.COMPLAINT
_DEPARTMENT = (Stage.AWAITING_DEPARTMENT_PLAN, Stage.AWAITING_DEPARTMENT_RESULT)

TRANSITIONS: tuple[Transition, ...] = (
    # Inquiries (R3.2-R3.7).
    Transition(_I, ActionName.ACKNOWLEDGE, (Stage.RECEIVED,), Stage.ACKNOWLEDGED),
    Transition(_I, ActionName.ANSWER, (Stage.RECEIVED, Stage.ACKNOWLEDGED), Stage.RESOLVED),
    Transition(
        _I,
        ActionName.TRANSFER,
        (Stage.RECEIVED, Stage.ACKNOWLEDGED),
        Stage.AWAITING_DEPARTMENT_PLAN,
    ),
    Transition(
        _I,
        ActionName.RECORD_DEPARTMENT_PLAN,
        (Stage.AWAITING_DEPARTMENT_PLAN,),
        Stage.AWAITING_DEPARTMENT_RESULT,
    ),
    Transition(
        _I, ActionName.RECORD_DEPARTMENT_RESULT, _DEPARTMENT, Stage.AWAITING_CUSTOMER_UPDATE
    ),
    Transition(_I, ActionName.UPDATE_CUSTOMER, (Stage.AWAITING_CUSTOMER_UPDATE,), Stage.RESOLVED),
    Transition(_I, ActionName.CLOSE, (Stage.RESOLVED,), Stage.CLOSED),
    Transition(_I, ActionName.REOPEN, (Stage.CLOSED,), Stage.RECEIVED),
    # Complaints (R4.2-R4.4), which may also pass through a department.
    Transition(_C, ActionName.ACKNOWLEDGE, (Stage.RECEIVED,), Stage.ACKNOWLEDGED, Guard.NO_OWNER),
    Transition(
        _C, ActionName.ACKNOWLEDGE, (Stage.RECEIVED,), Stage.INVESTIGATING, Guard.OWNER_ASSIGNED
    ),
    Transition(_C, ActionName.ASSIGN_OWNER, (Stage.ACKNOWLEDGED,), Stage.INVESTIGATING),
    Transition(
        _C,
        ActionName.RECORD_INVESTIGATION,
        (Stage.INVESTIGATING,),
        Stage.AWAITING_FINAL_REPLY,
    ),
    Transition(
        _C,
        ActionName.TRANSFER,
        (Stage.INVESTIGATING, Stage.AWAITING_FINAL_REPLY),
        Stage.AWAITING_DEPARTMENT_PLAN,
    ),
    Transition(
        _C,
        ActionName.RECORD_DEPARTMENT_PLAN,
        (Stage.AWAITING_DEPARTMENT_PLAN,),
        Stage.AWAITING_DEPARTMENT_RESULT,
    ),
    Transition(
        _C, ActionName.RECORD_DEPARTMENT_RESULT, _DEPARTMENT, Stage.AWAITING_CUSTOMER_UPDATE
    ),
    Transition(
        _C,
        ActionName.UPDATE_CUSTOMER,
        (Stage.AWAITING_CUSTOMER_UPDATE,),
        Stage.INVESTIGATING,
        Guard.INVESTIGATION_PENDING,
    ),
    Transition(
        _C,
        ActionName.UPDATE_CUSTOMER,
        (Stage.AWAITING_CUSTOMER_UPDATE,),
        Stage.AWAITING_FINAL_REPLY,
        Guard.INVESTIGATION_DONE,
    ),
    Transition(_C, ActionName.SEND_FINAL_REPLY, (Stage.AWAITING_FINAL_REPLY,), Stage.RESOLVED),
    Transition(_C, ActionName.CLOSE, (Stage.RESOLVED,), Stage.CLOSED),
    Transition(_C, ActionName.REOPEN, (Stage.CLOSED,), Stage.RECEIVED),
)


def transitions_of(kind: CaseKind) -> tuple[Transition, ...]:
    """The transitions of one case kind, in table order."""
    return tuple(t for t in TRANSITIONS if t.kind is kind)
