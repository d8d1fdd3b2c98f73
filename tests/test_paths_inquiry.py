"""The case workflow's paths on the time-skipping test server: R3, an inquiry transferred to a
department.

The harness is ``tests.helpers.paths``; side-effect activities are its stand-ins.
"""

from __future__ import annotations

from temporalio.client import (
    WorkflowExecutionStatus,
)

from contracts.actions import (
    AcknowledgeInput,
    CloseInput,
    RecordDepartmentPlanInput,
    RecordDepartmentResultInput,
    RecordFeedbackInput,
    TransferInput,
    UpdateCustomerInput,
)
from contracts.case import (
    CaseKind,
    ClockStatus,
    Stage,
)
from contracts.policy import ClockName
from tests.helpers.paths import (
    AGENT,
    CUSTOMER,
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    Desk,
)

# --- R3: an inquiry transferred to a department ------------------------------------------


async def test_inquiry_transferred_to_a_department_from_intake_to_the_end(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    log = desk.log
    state = await case.state()
    assert state.stage is Stage.RECEIVED
    opened = state.opened_at
    first = state.clocks[ClockName.FIRST_RESPONSE]
    assert first.deadline == opened + 5 * MINUTE
    assert list(state.clocks) == [ClockName.FIRST_RESPONSE]
    assert log.templates() == ["received"]
    assert log.customer[0].params["deadline"] == first.deadline.isoformat(timespec="minutes")

    state = await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    assert state.stage is Stage.ACKNOWLEDGED
    assert state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.MET

    await case.until(opened + 2 * MINUTE)
    transferred_at = await case.now()
    state = await case.do(
        "transfer", TransferInput(actor=AGENT, department="cards", reason="Fee waiver rules")
    )
    assert state.stage is Stage.AWAITING_DEPARTMENT_PLAN
    assert state.department == "cards"
    plan = state.clocks[ClockName.DEPARTMENT_PLAN]
    result = state.clocks[ClockName.DEPARTMENT_RESULT]
    assert plan.status is result.status is ClockStatus.RUNNING
    assert plan.started_at == result.started_at
    assert abs(plan.started_at - transferred_at) < SECOND
    assert plan.deadline == plan.started_at + 24 * HOUR  # R3.5
    assert result.deadline == result.started_at + 48 * HOUR  # R3.6
    state = await case.settled()
    [dispatch] = log.dispatches
    assert (dispatch.department, dispatch.reason, dispatch.requested_by) == (
        "cards",
        "Fee waiver rules",
        AGENT,
    )
    assert (dispatch.kind, dispatch.case_id) == (CaseKind.INQUIRY, state.case_id)
    assert dispatch.description == "Annual fee charged although waived"
    assert log.templates() == ["received", "acknowledged", "transferred"]
    assert log.customer[-1].params["department"] == "cards"
    assert log.customer[-1].params["deadline"] == result.deadline.isoformat(timespec="minutes")

    await case.until(plan.started_at + 18 * HOUR)
    state = await case.do(
        "record_department_plan", RecordDepartmentPlanInput(actor="cards-desk", plan="Refund check")
    )
    assert state.stage is Stage.AWAITING_DEPARTMENT_RESULT
    plan = state.clocks[ClockName.DEPARTMENT_PLAN]
    assert plan.status is ClockStatus.MET
    assert plan.met_at is not None
    assert plan.deadline is not None
    assert plan.met_at < plan.deadline

    await case.until(result.started_at + 30 * HOUR)
    state = await case.do(
        "record_department_result",
        RecordDepartmentResultInput(actor="cards-desk", result="Fee refunded in full"),
    )
    assert state.stage is Stage.AWAITING_CUSTOMER_UPDATE
    assert state.clocks[ClockName.DEPARTMENT_RESULT].status is ClockStatus.MET
    update = state.clocks[ClockName.CUSTOMER_UPDATE]
    assert update.status is ClockStatus.RUNNING
    assert update.deadline == update.started_at + 4 * HOUR  # R3.7

    await case.until(update.started_at + HOUR)
    state = await case.do(
        "update_customer", UpdateCustomerInput(actor=AGENT, message="Your fee is refunded.")
    )
    assert state.stage is Stage.RESOLVED
    assert state.clocks[ClockName.CUSTOMER_UPDATE].status is ClockStatus.MET

    state = await case.do("close", CloseInput(actor=AGENT, reason="Customer satisfied"))
    assert state.stage is Stage.CLOSED
    assert state.closed_at is not None
    assert state.reopen_until == state.closed_at + 14 * DAY
    survey = state.clocks[ClockName.SURVEY]
    assert survey.deadline == survey.started_at + 7 * DAY
    state = await case.do(
        "record_feedback", RecordFeedbackInput(actor=CUSTOMER, score=4, comment="ok")
    )
    assert state.clocks[ClockName.SURVEY].status is ClockStatus.MET
    state = await case.settled()

    # R2.2: the customer heard at every step, and nobody was ever alerted.
    assert log.templates() == [
        "received",
        "acknowledged",
        "transferred",
        "progress",
        "closed_survey",
    ]
    assert log.customer[3].params["message"] == "Your fee is refunded."
    assert log.staff == []
    [fb] = log.feedback
    assert (fb.score, fb.comment, fb.kind) == (4, "ok", CaseKind.INQUIRY)
    assert [e.type for e in state.timeline] == [
        "opened",
        "clock_met",
        "acknowledged",
        "transferred",
        "clock_met",
        "department_plan_received",
        "clock_met",
        "department_result_received",
        "customer_updated",
        "clock_met",
        "closed",
        "clock_met",
        "feedback_received",
    ]
    assert {e.actor for e in state.timeline if e.type.startswith("department_")} == {"cards-desk"}

    # The workflow ends when the reopen window does, not before.
    closed_until = state.reopen_until
    assert closed_until is not None
    await case.until(closed_until - SECOND)
    assert (await case.handle.describe()).status is WorkflowExecutionStatus.RUNNING
    await case.until(closed_until + SECOND)
    final = await case.outcome()
    assert final.stage is Stage.CLOSED
    description = await case.handle.describe()
    assert description.status is WorkflowExecutionStatus.COMPLETED
    assert description.close_time is not None
    assert description.close_time >= closed_until


async def test_department_result_straight_after_transfer_meets_both_clocks(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    await case.do("transfer", TransferInput(actor=AGENT, department="loans", reason="Rates"))
    state = await case.do(
        "record_department_result", RecordDepartmentResultInput(actor="loans-desk", result="Done")
    )
    assert state.stage is Stage.AWAITING_CUSTOMER_UPDATE
    assert state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.MET
    assert state.clocks[ClockName.DEPARTMENT_PLAN].status is ClockStatus.MET
    assert state.clocks[ClockName.DEPARTMENT_RESULT].status is ClockStatus.MET
