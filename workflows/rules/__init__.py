"""The action table: every handler action once, with its input, check and apply.

The case workflow's update and signal handlers, and the HTTP API's routes, are all
derived from ``ACTIONS``; ``rule_for`` matches every ``ActionName`` exhaustively, so
mypy flags an action that has no rule.
"""

from __future__ import annotations

from typing import assert_never

from contracts.actions import ActionName
from workflows.rules import (
    clocks,
    closing,
    complaint,
    department,
    handling,
    incidents,
    regulatory,
)
from workflows.rules.table import (
    ActionRule,
    AnyRule,
    CountedDeadline,
    CountingRule,
    WorkingDayCount,
)


def rule_for(name: ActionName) -> AnyRule:
    """The rule of one action."""
    match name:
        case ActionName.ACKNOWLEDGE:
            return handling.ACKNOWLEDGE
        case ActionName.ANSWER:
            return handling.ANSWER
        case ActionName.UPDATE_CUSTOMER:
            return handling.UPDATE_CUSTOMER
        case ActionName.ADD_NOTE:
            return handling.ADD_NOTE
        case ActionName.TRANSFER:
            return department.TRANSFER
        case ActionName.RECORD_DEPARTMENT_PLAN:
            return department.RECORD_DEPARTMENT_PLAN
        case ActionName.RECORD_DEPARTMENT_RESULT:
            return department.RECORD_DEPARTMENT_RESULT
        case ActionName.ASSIGN_OWNER:
            return complaint.ASSIGN_OWNER
        case ActionName.RECORD_INVESTIGATION:
            return complaint.RECORD_INVESTIGATION
        case ActionName.PROPOSE_REMEDY:
            return complaint.PROPOSE_REMEDY
        case ActionName.DECIDE_REMEDY:
            return complaint.DECIDE_REMEDY
        case ActionName.SEND_FINAL_REPLY:
            return complaint.SEND_FINAL_REPLY
        case ActionName.CLOSE:
            return closing.CLOSE
        case ActionName.REOPEN:
            return closing.REOPEN
        case ActionName.RECORD_FEEDBACK:
            return closing.RECORD_FEEDBACK
        case ActionName.EXTEND_CLOCK:
            return clocks.EXTEND_CLOCK
        case ActionName.PAUSE_CLOCK:
            return clocks.PAUSE_CLOCK
        case ActionName.RESUME_CLOCK:
            return clocks.RESUME_CLOCK
        case ActionName.ESCALATE:
            return clocks.ESCALATE
        case ActionName.EXTEND_REGULATOR_CLOCK:
            return regulatory.EXTEND_REGULATOR_CLOCK
        case ActionName.JOIN_INCIDENT:
            return incidents.JOIN_INCIDENT
        case ActionName.SEND_INCIDENT_HOLDING:
            return incidents.SEND_INCIDENT_HOLDING
        case _:
            assert_never(name)


# Every action by its update and signal name, in the order of ``ActionName``.
ACTIONS: dict[str, AnyRule] = {name.value: rule_for(name) for name in ActionName}

# The actions a system that only has Temporal may send as signals: the handlers'
# completion steps and the supervisor's unsticking set. A signal carries no verified
# identity (its ``actor`` is whatever the sender wrote), so the steps that commit the
# bank to the customer or need a second person (a remedy's decision, the final reply,
# closing) come only through the authenticated API. A tuple: its order is fixed, and
# the rejection reason lists it.
BY_SIGNAL: tuple[ActionName, ...] = (
    ActionName.RECORD_DEPARTMENT_PLAN,
    ActionName.RECORD_DEPARTMENT_RESULT,
    ActionName.UPDATE_CUSTOMER,
    ActionName.RECORD_INVESTIGATION,
    ActionName.ASSIGN_OWNER,
    ActionName.ESCALATE,
    ActionName.EXTEND_CLOCK,
    ActionName.PAUSE_CLOCK,
    ActionName.RESUME_CLOCK,
    ActionName.ADD_NOTE,
)

__all__ = [
    "ACTIONS",
    "BY_SIGNAL",
    "ActionRule",
    "AnyRule",
    "CountedDeadline",
    "CountingRule",
    "WorkingDayCount",
    "rule_for",
]
