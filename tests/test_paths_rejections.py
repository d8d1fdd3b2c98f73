"""The case workflow's paths on the time-skipping test server: actions that do not fit change
nothing.

The harness is ``tests.helpers.paths``; side-effect activities are its stand-ins.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts.actions import (
    AcknowledgeInput,
    Action,
    AnswerInput,
    AssignOwnerInput,
    CloseInput,
    DecideRemedyInput,
    EscalateInput,
    ExtendClockInput,
    PauseClockInput,
    ProposeRemedyInput,
    RecordDepartmentPlanInput,
    RecordDepartmentResultInput,
    RecordInvestigationInput,
    ReopenInput,
    ResumeClockInput,
    SendFinalReplyInput,
    TransferInput,
    UpdateCustomerInput,
)
from contracts.case import (
    CaseKind,
    RemedyKind,
)
from contracts.policy import ClockName
from tests.helpers.paths import (
    AGENT,
    HOUR,
    MINUTE,
    OWNER,
    SUPERVISOR,
    Case,
    Desk,
)

# --- actions that do not fit -----------------------------------------------------------

Act = tuple[str, Action]
Step = Act | timedelta

ACK: Act = ("acknowledge", AcknowledgeInput(actor=AGENT))
TRANSFER: Act = ("transfer", TransferInput(actor=AGENT, department="cards", reason="Fees"))
PLAN: Act = ("record_department_plan", RecordDepartmentPlanInput(actor="cards", plan="Plan"))
RESULT: Act = ("record_department_result", RecordDepartmentResultInput(actor="cards", result="Ok"))
UPDATE: Act = ("update_customer", UpdateCustomerInput(actor=AGENT, message="Done"))
ANSWER: Act = ("answer", AnswerInput(actor=AGENT, answer="Done"))
CLOSE: Act = ("close", CloseInput(actor=AGENT))
REOPEN: Act = ("reopen", ReopenInput(actor=AGENT, reason="Again"))
OWN: Act = ("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
INVESTIGATE: Act = ("record_investigation", RecordInvestigationInput(actor=OWNER, findings="Yes"))
REPLY: Act = ("send_final_reply", SendFinalReplyInput(actor=OWNER, reply="Sorry"))
REFUND: Act = (
    "propose_remedy",
    ProposeRemedyInput(
        actor=OWNER, kind=RemedyKind.FEE_REFUND, description="Fee", amount=Decimal(9)
    ),
)
APPROVE_R1: Act = ("decide_remedy", DecideRemedyInput(actor=SUPERVISOR, remedy_id="R1"))
ESCALATE: Act = ("escalate", EscalateInput(actor=AGENT, reason="Angry"))


def pause(clock: ClockName) -> Act:
    return ("pause_clock", PauseClockInput(actor=OWNER, clock=clock, reason="Waiting"))


def resume(clock: ClockName) -> Act:
    return ("resume_clock", ResumeClockInput(actor=OWNER, clock=clock))


def extend(clock: ClockName, **kwargs: Any) -> Act:
    return (
        "extend_clock",
        ExtendClockInput(actor=SUPERVISOR, clock=clock, reason="More", **kwargs),
    )


# Where the case stands -> (kind, how it got there, actions that do not fit with the
# words their reason must contain).
MISFITS: dict[str, tuple[CaseKind, list[Step], list[tuple[Act, str]]]] = {
    "inquiry-received": (
        CaseKind.INQUIRY,
        [],
        [
            (PLAN, "cannot record the department's plan while the case is received"),
            (RESULT, "cannot record the department's result while the case is received"),
            (UPDATE, "acknowledge the case before sending the customer an update"),
            (CLOSE, "cannot close while the case is received (needs: resolved)"),
            (REOPEN, "cannot reopen while the case is received (needs: closed)"),
            (INVESTIGATE, "cannot record an investigation on an inquiry"),
            (REFUND, "cannot propose a remedy on an inquiry"),
            (REPLY, "cannot send a final reply on an inquiry"),
            (resume(ClockName.FIRST_RESPONSE), "clock first_response is running, not paused"),
            (pause(ClockName.DEPARTMENT_PLAN), "clock department_plan is not running"),
            (extend(ClockName.INVESTIGATION, by=HOUR), "clock investigation is not running"),
        ],
    ),
    "inquiry-acknowledged": (
        CaseKind.INQUIRY,
        [ACK],
        [
            (ACK, "cannot acknowledge while the case is acknowledged"),
            (PLAN, "while the case is acknowledged"),
            (CLOSE, "cannot close while the case is acknowledged"),
            (pause(ClockName.FIRST_RESPONSE), "clock first_response is met, not running"),
            (extend(ClockName.FIRST_RESPONSE, by=HOUR), "first_response is met"),
        ],
    ),
    "inquiry-awaiting-plan": (
        CaseKind.INQUIRY,
        [ACK, TRANSFER],
        [
            (TRANSFER, "already with department cards"),
            (ANSWER, "cannot answer while the case is awaiting_department_plan"),
            (ACK, "cannot acknowledge while the case is awaiting_department_plan"),
            (CLOSE, "cannot close while the case is awaiting_department_plan"),
            (REOPEN, "cannot reopen while the case is awaiting_department_plan"),
        ],
    ),
    "inquiry-awaiting-result": (
        CaseKind.INQUIRY,
        [ACK, TRANSFER, PLAN],
        [
            (
                PLAN,
                "cannot record the department's plan while the case is awaiting_department_result",
            ),
            (TRANSFER, "already with department cards"),
            (ANSWER, "cannot answer while the case is awaiting_department_result"),
            (resume(ClockName.DEPARTMENT_RESULT), "department_result is running, not paused"),
        ],
    ),
    "inquiry-awaiting-update": (
        CaseKind.INQUIRY,
        [ACK, TRANSFER, PLAN, RESULT],
        [
            (RESULT, "while the case is awaiting_customer_update"),
            (TRANSFER, "cannot transfer while the case is awaiting_customer_update"),
            (ANSWER, "cannot answer while the case is awaiting_customer_update"),
            (CLOSE, "cannot close while the case is awaiting_customer_update"),
            (ACK, "cannot acknowledge while the case is awaiting_customer_update"),
        ],
    ),
    "inquiry-resolved": (
        CaseKind.INQUIRY,
        [ANSWER],
        [
            (ACK, "cannot acknowledge while the case is resolved"),
            (ANSWER, "cannot answer while the case is resolved"),
            (TRANSFER, "cannot transfer while the case is resolved"),
            (UPDATE, "the case is resolved; this action needs an open case"),
            (OWN, "the case is resolved; this action needs an open case"),
            (ESCALATE, "the case is resolved; this action needs an open case"),
            (REOPEN, "cannot reopen while the case is resolved (needs: closed)"),
            (RESULT, "cannot record the department's result while the case is resolved"),
        ],
    ),
    "inquiry-closed": (
        CaseKind.INQUIRY,
        [ANSWER, CLOSE],
        [
            (CLOSE, "cannot close while the case is closed"),
            (ANSWER, "cannot answer while the case is closed"),
            (UPDATE, "the case is closed; this action needs an open case"),
            (ESCALATE, "the case is closed; this action needs an open case"),
            (OWN, "the case is closed; this action needs an open case"),
            (ACK, "cannot acknowledge while the case is closed"),
            (resume(ClockName.SURVEY), "clock survey is running, not paused"),
        ],
    ),
    "complaint-received": (
        CaseKind.COMPLAINT,
        [],
        [
            (ANSWER, "a complaint is answered by its final reply"),
            (TRANSFER, "cannot transfer while the case is received (needs: investigating"),
            (REFUND, "acknowledge the complaint before proposing remedies"),
            (INVESTIGATE, "cannot record the investigation while the case is received"),
            (REPLY, "cannot send the final reply while the case is received"),
            (CLOSE, "cannot close while the case is received"),
        ],
    ),
    "complaint-investigating": (
        CaseKind.COMPLAINT,
        [ACK, OWN],
        [
            (REPLY, "cannot send the final reply while the case is investigating"),
            (ACK, "cannot acknowledge while the case is investigating"),
            (CLOSE, "cannot close while the case is investigating"),
            (PLAN, "cannot record the department's plan while the case is investigating"),
            (OWN, f"{OWNER} already owns the case"),
            (ANSWER, "a complaint is answered by its final reply"),
        ],
    ),
    "complaint-awaiting-final-reply": (
        CaseKind.COMPLAINT,
        [ACK, OWN, INVESTIGATE, REFUND],
        [
            (INVESTIGATE, "cannot record the investigation while the case is awaiting_final_reply"),
            (CLOSE, "cannot close while the case is awaiting_final_reply"),
            (REOPEN, "cannot reopen while the case is awaiting_final_reply"),
            (APPROVE_R1, "remedy R1 is already approved"),
            (ACK, "cannot acknowledge while the case is awaiting_final_reply"),
        ],
    ),
    "complaint-resolved": (
        CaseKind.COMPLAINT,
        [ACK, OWN, INVESTIGATE, REPLY],
        [
            (REPLY, "cannot send the final reply while the case is resolved"),
            (REFUND, "the case is resolved; this action needs an open case"),
            (INVESTIGATE, "cannot record the investigation while the case is resolved"),
            (TRANSFER, "cannot transfer while the case is resolved"),
        ],
    ),
    "complaint-paused-clock": (
        CaseKind.COMPLAINT,
        [ACK, OWN, pause(ClockName.INVESTIGATION)],
        [
            (pause(ClockName.INVESTIGATION), "clock investigation is paused, not running"),
            (extend(ClockName.INVESTIGATION, working_days=1), "resume it first"),
            (resume(ClockName.FINAL_REPLY), "clock final_reply is running, not paused"),
        ],
    ),
    "inquiry-breached-clock": (
        CaseKind.INQUIRY,
        [10 * MINUTE],
        [
            (extend(ClockName.FIRST_RESPONSE, by=HOUR), "clock first_response is breached"),
            (pause(ClockName.FIRST_RESPONSE), "clock first_response is breached, not running"),
            (resume(ClockName.FIRST_RESPONSE), "clock first_response is breached, not paused"),
        ],
    ),
    "inquiry-top-of-ladder": (
        CaseKind.INQUIRY,
        [ACK, ESCALATE, ESCALATE, ESCALATE],
        [(ESCALATE, "the case is already at the top of the escalation ladder")],
    ),
}


async def reach(desk: Desk, kind: CaseKind, steps: list[Step]) -> Case:
    case = await desk.open(kind)
    for step in steps:
        if isinstance(step, timedelta):
            await case.until(await case.now() + step)
        else:
            await case.do(*step)
    await case.settled()
    return case


@pytest.mark.parametrize("where", list(MISFITS))
async def test_an_action_that_does_not_fit_is_rejected_and_changes_nothing(
    desk: Desk, where: str
) -> None:
    kind, steps, misfits = MISFITS[where]
    case = await reach(desk, kind, steps)
    before = await case.state()
    effects = (len(desk.log.customer), len(desk.log.staff), len(desk.log.dispatches))
    for (action, input), words in misfits:
        reason = await case.refused(action, input, kind="ActionRejected")
        assert words in reason, (action, reason)
        assert await case.state() == before, f"{action} left a trace"
    assert (len(desk.log.customer), len(desk.log.staff), len(desk.log.dispatches)) == effects


async def test_a_value_wrong_for_the_case_is_an_invalid_action(desk: Desk) -> None:
    case = await reach(desk, CaseKind.COMPLAINT, [ACK, OWN])
    before = await case.state()
    invalid: list[tuple[Act, str]] = [
        (
            ("transfer", TransferInput(actor=OWNER, department="astrology", reason="?")),
            "department: unknown department 'astrology' (known: cards, ",
        ),
        (("decide_remedy", DecideRemedyInput(actor=SUPERVISOR, remedy_id="R9")), "no remedy 'R9'"),
        (
            (
                "propose_remedy",
                ProposeRemedyInput(
                    actor=OWNER,
                    kind=RemedyKind.COMPENSATION,
                    description="Comp",
                    amount=Decimal(10),
                    currency="USD",
                ),
            ),
            "currency: remedies are paid in CNY",
        ),
        (
            (
                "propose_remedy",
                ProposeRemedyInput(actor=OWNER, kind=RemedyKind.FEE_REFUND, description="Fee"),
            ),
            "amount: a fee_refund needs an amount",
        ),
        (
            extend(ClockName.INVESTIGATION, by=HOUR, working_days=1),
            "give either 'by' (an ISO-8601 duration) or 'working_days'",
        ),
    ]
    for (action, input), words in invalid:
        reason = await case.refused(action, input, kind="InvalidAction")
        assert words in reason, reason
    assert await case.state() == before
