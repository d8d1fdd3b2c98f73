"""The transition table (``workflows.rules.transitions``) against the real rules.

Every action is checked and applied, as the workflow does it, to a case of each kind
standing at each stage, with and without an owner and a recorded investigation. Where
the table lists the action for that stage (and condition), the action must succeed and
land on the listed stage; everywhere else it must be refused or leave the stage as it
was. So the flow charts drawn from the table (docs/flowcharts.md) cannot drift from
the rules. No Temporal server: rules are plain functions with ``now`` passed in.
"""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta
from typing import Any

import pytest

from contracts.actions import Action, ActionName
from contracts.case import CaseKind, Stage
from tests.test_case_rules import DAY, T0, act, open_case
from workflows.case_file import DEPARTMENT_STAGES, CaseFile, RejectionError
from workflows.rules import rule_for
from workflows.rules.transitions import TRANSITIONS, Guard, Transition

NOW = T0 + timedelta(minutes=2)

# One valid input per action (an agent acting; the department's own desk for its steps).
SAMPLES: dict[ActionName, dict[str, Any]] = {
    ActionName.ACKNOWLEDGE: {},
    ActionName.ANSWER: {"answer": "Your card is active."},
    ActionName.UPDATE_CUSTOMER: {"message": "The fee has been reversed."},
    ActionName.ADD_NOTE: {"note": "called the customer"},
    ActionName.EXTEND_REGULATOR_CLOCK: {"extension": "complex", "reason": "records requested"},
    ActionName.TRANSFER: {"department": "cards", "reason": "fee reversal"},
    ActionName.RECORD_DEPARTMENT_PLAN: {"plan": "reverse the fee", "department": "cards"},
    ActionName.RECORD_DEPARTMENT_RESULT: {"result": "fee reversed", "department": "cards"},
    ActionName.ASSIGN_OWNER: {"owner": "zhou.min"},
    ActionName.RECORD_INVESTIGATION: {"findings": "billing batch ran twice"},
    ActionName.PROPOSE_REMEDY: {"kind": "apology", "description": "A written apology"},
    ActionName.DECIDE_REMEDY: {"remedy_id": "R1", "approve": True},
    ActionName.SEND_FINAL_REPLY: {"reply": "We reversed the fee."},
    ActionName.CLOSE: {},
    ActionName.REOPEN: {"reason": "the fee came back"},
    ActionName.RECORD_FEEDBACK: {"score": 5},
    ActionName.EXTEND_CLOCK: {"clock": "first_response", "by": "PT1H", "reason": "agreed"},
    ActionName.PAUSE_CLOCK: {"clock": "first_response", "reason": "waiting for papers"},
    ActionName.RESUME_CLOCK: {"clock": "first_response"},
    ActionName.ESCALATE: {"reason": "customer called three times"},
    ActionName.JOIN_INCIDENT: {"incident_id": "INC-1", "title": "card outage"},
    ActionName.SEND_INCIDENT_HOLDING: {"incident_id": "INC-1"},
}

# (owner set, investigation recorded): every combination of the table's conditions.
CONTEXTS = list(itertools.product((False, True), (False, True)))


def _holds(guard: Guard, owner: bool, investigated: bool) -> bool:
    match guard:
        case Guard.NONE:
            return True
        case Guard.OWNER_ASSIGNED:
            return owner
        case Guard.NO_OWNER:
            return not owner
        case Guard.INVESTIGATION_DONE:
            return investigated
        case Guard.INVESTIGATION_PENDING:
            return not investigated


def _case_at(template: CaseFile, stage: Stage, owner: bool, investigated: bool) -> CaseFile:
    case = copy.deepcopy(template)
    case.state.stage = stage
    case.state.owner = "zhang.wei" if owner else None
    case.investigation_done = investigated
    if stage in DEPARTMENT_STAGES or stage is Stage.AWAITING_CUSTOMER_UPDATE:
        case.state.department = "cards"
    if stage is Stage.CLOSED:
        case.state.closed_at = T0
        case.state.reopen_until = T0 + 14 * DAY
    return case


def _input(action: ActionName) -> Action:
    built: Action = rule_for(action).input.model_validate({"actor": "li.na", **SAMPLES[action]})
    return built


def _expected(
    kind: CaseKind, action: ActionName, stage: Stage, owner: bool, investigated: bool
) -> list[Transition]:
    return [
        t
        for t in TRANSITIONS
        if t.kind is kind
        and t.action is action
        and stage in t.sources
        and _holds(t.guard, owner, investigated)
    ]


def test_every_action_has_a_sample() -> None:
    assert set(SAMPLES) == set(ActionName)


@pytest.mark.parametrize("kind", list(CaseKind))
def test_table_matches_rules(kind: CaseKind) -> None:
    template = open_case(kind)
    exercised: set[Transition] = set()
    mismatches: list[str] = []
    for stage, (owner, investigated), action in itertools.product(Stage, CONTEXTS, ActionName):
        expected = _expected(kind, action, stage, owner, investigated)
        assert len(expected) <= 1, f"{kind} {action} {stage}: ambiguous table {expected}"
        case = _case_at(template, stage, owner, investigated)
        where = f"{kind.value} at {stage.value} (owner={owner}, investigated={investigated})"
        try:
            act(case, _input(action), NOW)
        except RejectionError as err:
            if expected:
                mismatches.append(f"{action.value} on {where}: refused ({err.reason})")
            continue
        if expected:
            exercised.add(expected[0])
            if case.state.stage is not expected[0].target:
                mismatches.append(
                    f"{action.value} on {where}: went to {case.state.stage.value},"
                    f" table says {expected[0].target.value}"
                )
        elif case.state.stage is not stage:
            mismatches.append(
                f"{action.value} on {where}: moved to {case.state.stage.value}, not in the table"
            )
    assert mismatches == []
    assert exercised == {t for t in TRANSITIONS if t.kind is kind}
