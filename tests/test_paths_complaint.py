"""The case workflow's paths on the time-skipping test server: R4 and R6.1, a complaint from
register to survey.

The harness is ``tests.helpers.paths``; side-effect activities are its stand-ins.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import (
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError

from contracts.actions import (
    AcknowledgeInput,
    AnswerInput,
    AssignOwnerInput,
    CloseInput,
    DecideRemedyInput,
    ProposeRemedyInput,
    RecordDepartmentPlanInput,
    RecordDepartmentResultInput,
    RecordFeedbackInput,
    RecordInvestigationInput,
    ReopenInput,
    SendFinalReplyInput,
    TransferInput,
    UpdateCustomerInput,
)
from contracts.case import (
    CaseKind,
    ClockStatus,
    RemedyKind,
    RemedyStatus,
    Stage,
)
from contracts.policy import ClockName
from tests.helpers.paths import (
    AGENT,
    CUSTOMER,
    DAY,
    HOUR,
    MINUTE,
    OWNER,
    SECOND,
    SUPERVISOR,
    Desk,
    PolicyFiles,
    final_reply_deadline,
)

# --- R4: a complaint from register to survey, with remedies and a reopen ---------------


async def test_complaint_with_remedies_reopen_and_survey(desk: Desk) -> None:
    log = desk.log
    case = await desk.open()
    state = await case.state()
    opened = state.opened_at
    assert state.policy_version is not None
    assert state.policy_version.startswith("plan-2026.1+")
    assert [e.type for e in state.timeline] == ["opened", "entered_in_complaint_register"]
    assert set(state.clocks) == {
        ClockName.FIRST_RESPONSE,
        ClockName.INVESTIGATION,
        ClockName.FINAL_REPLY,
    }
    final = state.clocks[ClockName.FINAL_REPLY]
    assert final.deadline == final_reply_deadline(opened)
    # The complaint's receipt promises the final reply's deadline.
    assert log.customer[0].params["deadline"] == final.deadline.isoformat(timespec="minutes")

    state = await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    assert state.stage is Stage.ACKNOWLEDGED
    state = await case.do("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
    assert (state.stage, state.owner) == (Stage.INVESTIGATING, OWNER)

    await case.until(opened + 30 * HOUR)
    state = await case.do(
        "record_investigation",
        RecordInvestigationInput(actor=OWNER, findings="Fee wrongly charged"),
    )
    assert state.stage is Stage.AWAITING_FINAL_REPLY
    investigation = state.clocks[ClockName.INVESTIGATION]
    assert investigation.status is ClockStatus.MET
    assert investigation.met_at is not None
    assert abs(investigation.met_at - (opened + 30 * HOUR)) < SECOND

    # Under the threshold: approved and recorded in the ledger at once.
    state = await case.do(
        "propose_remedy",
        ProposeRemedyInput(
            actor=OWNER,
            kind=RemedyKind.FEE_REFUND,
            description="Annual fee refund",
            amount=Decimal("300.00"),
        ),
    )
    r1 = state.remedies[0]
    assert (r1.remedy_id, r1.status, r1.decided_by) == ("R1", RemedyStatus.APPROVED, OWNER)
    await case.settled()
    assert [r.remedy.remedy_id for r in log.remedies] == ["R1"]

    # Above the threshold: it waits for a supervisor (R4.4), and so does the reply.
    state = await case.do(
        "propose_remedy",
        ProposeRemedyInput(
            actor=OWNER,
            kind=RemedyKind.COMPENSATION,
            description="Goodwill compensation",
            amount=Decimal("800.00"),
        ),
    )
    assert state.remedies[1].status is RemedyStatus.PENDING_APPROVAL
    reason = await case.refused("send_final_reply", SendFinalReplyInput(actor=OWNER, reply="Done"))
    assert "R2" in reason
    assert "approval" in reason
    reason = await case.refused(
        "decide_remedy", DecideRemedyInput(actor=OWNER, remedy_id="R2"), kind="InvalidAction"
    )
    assert "proposer" in reason
    state = await case.do(
        "decide_remedy", DecideRemedyInput(actor=SUPERVISOR, remedy_id="R2", reason="Fair")
    )
    r2 = state.remedies[1]
    assert (r2.status, r2.decided_by) == (RemedyStatus.APPROVED, SUPERVISOR)
    await case.settled()
    assert [(r.remedy.remedy_id, r.remedy.decided_by) for r in log.remedies] == [
        ("R1", OWNER),
        ("R2", SUPERVISOR),
    ]
    reason = await case.refused("decide_remedy", DecideRemedyInput(actor="boss", remedy_id="R2"))
    assert "already approved" in reason

    state = await case.do(
        "send_final_reply", SendFinalReplyInput(actor=OWNER, reply="We refund and compensate.")
    )
    assert state.stage is Stage.RESOLVED
    assert state.clocks[ClockName.FINAL_REPLY].status is ClockStatus.MET
    state = await case.do("close", CloseInput(actor=OWNER))
    assert state.reopen_until == (state.closed_at or opened) + 14 * DAY
    await case.settled()
    reply = log.customer[-2]
    assert reply.template.value == "final_reply"
    assert reply.params["reply"] == "We refund and compensate."
    assert reply.params["remedies"] == (
        "Annual fee refund (300.00 CNY); Goodwill compensation (800.00 CNY)"
    )

    # Reopen within the window (the survey still open): the promises start again.
    await case.until(opened + 5 * DAY)
    state = await case.do("reopen", ReopenInput(actor=AGENT, reason="Compensation not received"))
    reopened = state.timeline[-1]
    assert reopened.type == "reopened"
    assert state.stage is Stage.RECEIVED
    assert (state.closed_at, state.reopen_until) == (None, None)
    assert ClockName.SURVEY not in state.clocks
    first = state.clocks[ClockName.FIRST_RESPONSE]
    assert (first.status, first.started_at) == (ClockStatus.RUNNING, reopened.at)
    assert first.deadline == reopened.at + 5 * MINUTE
    investigation = state.clocks[ClockName.INVESTIGATION]
    assert (investigation.status, investigation.deadline) == (
        ClockStatus.RUNNING,
        reopened.at + 48 * HOUR,
    )
    final = state.clocks[ClockName.FINAL_REPLY]
    assert final.status is ClockStatus.RUNNING
    assert final.started_at == reopened.at
    assert final.deadline == final_reply_deadline(reopened.at)

    # The owner stays: acknowledging goes straight back to the investigation.
    state = await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    assert state.stage is Stage.INVESTIGATING
    await case.do(
        "record_investigation", RecordInvestigationInput(actor=OWNER, findings="Paid late")
    )
    await case.do("send_final_reply", SendFinalReplyInput(actor=OWNER, reply="Paid today."))
    state = await case.do("close", CloseInput(actor=OWNER))
    closed_again = state.closed_at
    assert closed_again is not None

    await case.until(closed_again + 2 * DAY)
    state = await case.do("record_feedback", RecordFeedbackInput(actor=CUSTOMER, score=5))
    assert state.clocks[ClockName.SURVEY].status is ClockStatus.MET

    # The survey is answered; the case stays open to a reopen until its window ends.
    await case.until(closed_again + 14 * DAY - SECOND)
    assert (await case.handle.describe()).status is WorkflowExecutionStatus.RUNNING
    await case.until(closed_again + 14 * DAY + SECOND)
    final_state = await case.outcome()
    # After the window a reopen is refused: the case has ended, a new one is opened.
    with pytest.raises(RPCError):
        await case.do("reopen", ReopenInput(actor=AGENT, reason="Again"))
    assert final_state.stage is Stage.CLOSED
    assert final_state.clocks[ClockName.SURVEY].status is ClockStatus.MET

    # Each remedy reached the ledger exactly once, whatever happened after.
    assert [r.remedy.remedy_id for r in log.remedies] == ["R1", "R2"]
    assert [r.remedy.status for r in log.remedies] == [RemedyStatus.APPROVED] * 2
    assert log.templates() == [
        "received",
        "acknowledged",
        "final_reply",
        "closed_survey",
        "reopened",
        "acknowledged",
        "final_reply",
        "closed_survey",
    ]
    assert [(f.score, f.owner) for f in log.feedback] == [(5, OWNER)]
    assert log.staff == []
    assert log.dispatches == []
    types = [e.type for e in final_state.timeline]
    assert types.count("remedy_proposed") == 2
    assert types.count("remedy_approved") == 1
    assert types.count("reopened") == 1
    assert types[-1] == "feedback_received"


async def test_reopen_after_the_window_is_refused_while_the_survey_is_open(
    desk: Desk, policy_files: PolicyFiles
) -> None:
    # A policy whose reopen window (1 h) is shorter than the survey (a week).
    policy_files.use(reopen_window='"PT1H"', version='"plan-short-reopen"')
    case = await desk.open(CaseKind.INQUIRY)
    await case.do("answer", AnswerInput(actor=AGENT, answer="Done"))
    state = await case.do("close", CloseInput(actor=AGENT))
    assert state.reopen_until is not None
    await case.until(state.reopen_until + timedelta(milliseconds=50))
    reason = await case.refused("reopen", ReopenInput(actor=AGENT, reason="Again"))
    assert "reopen window ended" in reason
    assert "open a new case instead" in reason

    # Nothing is due until the survey lapses: the case sleeps, its history stays put.
    before = (await case.handle.describe()).history_length
    await asyncio.sleep(0.3)
    after = (await case.handle.describe()).history_length
    assert after == before, f"{after - before} history events while nothing was due"

    await case.do("record_feedback", RecordFeedbackInput(actor=CUSTOMER, score=4))
    final = await case.outcome()
    assert final.clocks[ClockName.SURVEY].status is ClockStatus.MET


async def test_complaint_transferred_while_investigating_returns_to_the_investigation(
    desk: Desk,
) -> None:
    case = await desk.open()
    await case.do("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
    state = await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    assert state.stage is Stage.INVESTIGATING
    await case.do("transfer", TransferInput(actor=OWNER, department="cards", reason="Ledger"))
    await case.do("record_department_plan", RecordDepartmentPlanInput(actor="cards", plan="Look"))
    await case.do(
        "record_department_result", RecordDepartmentResultInput(actor="cards", result="Ok")
    )
    state = await case.do("update_customer", UpdateCustomerInput(actor=OWNER, message="News"))
    assert state.stage is Stage.INVESTIGATING
    state = await case.do(
        "record_investigation", RecordInvestigationInput(actor=OWNER, findings="x")
    )
    assert state.stage is Stage.AWAITING_FINAL_REPLY
    await case.settled()
    assert [d.department for d in desk.log.dispatches] == ["cards"]


# --- R6.1: the survey nobody answers ---------------------------------------------------


async def test_unanswered_survey_lapses_quietly_and_the_case_ends(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    await case.do("answer", AnswerInput(actor=AGENT, answer="Branch opens at 9."))
    state = await case.do("close", CloseInput(actor=AGENT))
    survey = state.clocks[ClockName.SURVEY]
    assert survey.deadline is not None
    assert survey.warn_at is None
    await case.until(survey.deadline - SECOND)
    state = await case.state()
    assert state.clocks[ClockName.SURVEY].status is ClockStatus.RUNNING
    await case.until(survey.deadline + SECOND)
    state = await case.settled()
    assert state.clocks[ClockName.SURVEY].status is ClockStatus.EXPIRED
    [expired] = [e for e in state.timeline if e.type == "survey_expired"]
    assert expired.at == survey.deadline
    assert desk.log.staff == []
    assert desk.log.feedback == []
    assert not state.breached
    assert state.reopen_until is not None
    await case.until(state.reopen_until - SECOND)
    assert (await case.handle.describe()).status is WorkflowExecutionStatus.RUNNING
    await case.until(state.reopen_until + SECOND)
    final = await case.outcome()
    assert final.clocks[ClockName.SURVEY].status is ClockStatus.EXPIRED
    assert desk.log.templates() == ["received", "answered", "closed_survey"]
