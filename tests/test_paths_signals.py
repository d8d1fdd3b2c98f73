"""The case workflow's paths on the time-skipping test server: signals, the same actions for
systems with only Temporal.

The harness is ``tests.helpers.paths``; side-effect activities are its stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from temporalio.client import (
    WorkflowExecutionStatus,
)

from contracts.actions import AcknowledgeInput, ActionName, AnswerInput
from contracts.case import (
    CaseKind,
    CaseState,
    ClockStatus,
    RemedyStatus,
    Stage,
)
from contracts.policy import ClockName
from tests.helpers.paths import (
    AGENT,
    CUSTOMER,
    OWNER,
    SUPERVISOR,
    Case,
    Desk,
)
from workflows.rules import ACTIONS, BY_SIGNAL

# --- signals: the same actions for systems that only have Temporal ---------------------


async def signal(
    case: Case, name: str, payload: dict[str, Any], done: Callable[[CaseState], bool]
) -> CaseState:
    """Send an action as the Web UI's signal form would (a JSON object), wait for it."""
    await case.handle.signal(name, payload)
    return await case.eventually(done)


async def test_every_action_also_works_as_a_signal(desk: Desk) -> None:
    sent: set[str] = set()
    refused: list[str] = []

    async def send(
        case: Case, name: str, payload: dict[str, Any], done: Callable[[CaseState], bool]
    ) -> CaseState:
        """A signal of the handlers' and supervisors' set is applied; any other is
        recorded as rejected and changes nothing, and is then sent as the API does."""
        sent.add(name)
        if ActionName(name) in BY_SIGNAL:
            return await signal(case, name, payload, done)
        before = await case.state()
        await case.handle.signal(name, payload)
        after = await case.eventually(lambda s: s.last_seq > before.last_seq)
        [rejected] = after.timeline[len(before.timeline) :]
        assert rejected.type == "signal_rejected"
        assert rejected.detail is not None
        assert f"{name} is not taken by signal" in rejected.detail
        assert after.model_dump(exclude={"timeline"}) == before.model_dump(exclude={"timeline"})
        refused.append(name)
        await case.do(name, ACTIONS[name].input.model_validate(payload))
        return await case.eventually(done)

    inquiry = await desk.open(CaseKind.INQUIRY)
    await send(inquiry, "acknowledge", {"actor": AGENT}, lambda s: s.stage is Stage.ACKNOWLEDGED)
    await send(
        inquiry,
        "add_note",
        {"actor": AGENT, "note": "Called back"},
        lambda s: s.timeline[-1].type == "note_added",
    )
    await send(
        inquiry,
        "transfer",
        {"actor": AGENT, "department": "cards", "reason": "Fees"},
        lambda s: s.stage is Stage.AWAITING_DEPARTMENT_PLAN,
    )
    await send(
        inquiry,
        "record_department_plan",
        {"actor": "cards", "plan": "Check"},
        lambda s: s.stage is Stage.AWAITING_DEPARTMENT_RESULT,
    )
    await send(
        inquiry,
        "record_department_result",
        {"actor": "cards", "result": "Refund"},
        lambda s: s.stage is Stage.AWAITING_CUSTOMER_UPDATE,
    )
    await send(
        inquiry,
        "update_customer",
        {"actor": AGENT, "message": "Refunded"},
        lambda s: s.stage is Stage.RESOLVED,
    )
    await send(inquiry, "close", {"actor": AGENT}, lambda s: s.stage is Stage.CLOSED)
    state = await send(
        inquiry,
        "record_feedback",
        {"actor": CUSTOMER, "score": 5, "comment": "Quick"},
        lambda s: s.feedback is not None,
    )
    assert state.feedback is not None
    assert state.feedback.score == 5

    simple = await desk.open(CaseKind.INQUIRY)
    await send(
        simple, "answer", {"actor": AGENT, "answer": "Yes"}, lambda s: s.stage is Stage.RESOLVED
    )

    complaint = await desk.open()
    await send(complaint, "acknowledge", {"actor": AGENT}, lambda s: s.stage is Stage.ACKNOWLEDGED)
    await send(
        complaint,
        "assign_owner",
        {"actor": SUPERVISOR, "owner": OWNER},
        lambda s: s.stage is Stage.INVESTIGATING,
    )
    await send(
        complaint,
        "extend_clock",
        {"actor": SUPERVISOR, "clock": "investigation", "by": "PT6H", "reason": "Logs"},
        lambda s: s.clocks[ClockName.INVESTIGATION].extensions == 1,
    )
    await send(
        complaint,
        "extend_clock",
        {"actor": SUPERVISOR, "clock": "final_reply", "working_days": 1, "reason": "Peak"},
        lambda s: s.clocks[ClockName.FINAL_REPLY].extensions == 1,
    )
    await send(
        complaint,
        "pause_clock",
        {"actor": OWNER, "clock": "investigation", "reason": "Customer away"},
        lambda s: s.clocks[ClockName.INVESTIGATION].status is ClockStatus.PAUSED,
    )
    await send(
        complaint,
        "resume_clock",
        {"actor": OWNER, "clock": "investigation"},
        lambda s: s.clocks[ClockName.INVESTIGATION].status is ClockStatus.RUNNING,
    )
    await send(
        complaint,
        "escalate",
        {"actor": AGENT, "reason": "Press enquiry"},
        lambda s: s.escalation_level == 1,
    )
    await send(
        complaint,
        "join_incident",
        {"actor": "crisis-monitor", "incident_id": "crisis-test-1", "title": "Card fee surge"},
        lambda s: len(s.incidents) == 1,
    )
    await send(
        complaint,
        "send_incident_holding",
        {"actor": "crisis-monitor", "incident_id": "crisis-test-1"},
        lambda s: s.incidents[0].holding_sent_at is not None,
    )
    await send(
        complaint,
        "record_investigation",
        {"actor": OWNER, "findings": "Upheld", "upheld": True},
        lambda s: s.stage is Stage.AWAITING_FINAL_REPLY,
    )
    await send(
        complaint,
        "propose_remedy",
        {"actor": OWNER, "kind": "compensation", "description": "Comp", "amount": "900.00"},
        lambda s: len(s.remedies) == 1,
    )
    await send(
        complaint,
        "decide_remedy",
        {"actor": SUPERVISOR, "remedy_id": "R1", "approve": True},
        lambda s: s.remedies[0].status is RemedyStatus.APPROVED,
    )
    await send(
        complaint,
        "send_final_reply",
        {"actor": OWNER, "reply": "Compensated"},
        lambda s: s.stage is Stage.RESOLVED,
    )
    await send(complaint, "close", {"actor": OWNER}, lambda s: s.stage is Stage.CLOSED)
    state = await send(
        complaint,
        "reopen",
        {"actor": AGENT, "reason": "Not paid"},
        lambda s: s.clocks[ClockName.FINAL_REPLY].status is ClockStatus.RUNNING,
    )
    assert state.stage is Stage.RECEIVED
    # A regulator's extension needs its approver and the customer told: refused by
    # signal like every step outside the set (this case runs no regulator's clock, so
    # there is no update to send after it).
    before = await complaint.state()
    await complaint.handle.signal(
        "extend_regulator_clock",
        {"actor": SUPERVISOR, "extension": "complex", "reason": "Two banks involved"},
    )
    after = await complaint.eventually(lambda s: s.last_seq > before.last_seq)
    [rejected] = after.timeline[len(before.timeline) :]
    assert rejected.type == "signal_rejected"
    assert "extend_regulator_clock is not taken by signal" in (rejected.detail or "")
    assert after.model_dump(exclude={"timeline"}) == before.model_dump(exclude={"timeline"})
    sent.add("extend_regulator_clock")
    refused.append("extend_regulator_clock")
    assert sent == set(ACTIONS), f"not sent as signals: {set(ACTIONS) - sent}"

    assert set(refused) == set(ACTIONS) - {a.value for a in BY_SIGNAL}
    rejected_by_signal = []
    for case in (inquiry, simple, complaint):
        state = await case.settled()
        rejected_by_signal += [
            e.data["signal"] for e in state.timeline if e.type == "signal_rejected"
        ]
    assert sorted(rejected_by_signal) == sorted(refused)
    assert [r.remedy.amount for r in desk.log.remedies] == [Decimal("900.00")]
    assert [d.department for d in desk.log.dispatches] == ["cards"]
    assert [f.score for f in desk.log.feedback] == [5]


async def test_a_malformed_signal_is_recorded_and_the_case_carries_on(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    handle = case.handle
    bad: list[tuple[str, Any, str]] = [
        ("assign_owner", {"actor": AGENT}, "owner"),  # missing field
        ("escalate", {"actor": AGENT, "reason": 42}, "reason"),  # wrong type
        ("add_note", {"actor": AGENT, "note": "x", "mood": "grumpy"}, "mood"),  # unknown field
        ("frobnicate", {"actor": AGENT}, "no such action 'frobnicate'"),  # unknown signal
        (
            "record_department_plan",
            {"actor": "cards", "plan": "x"},
            "while the case is received",
        ),  # misfit
        ("add_note", "just a string", "dict"),  # not a JSON object
        ("close", {"actor": AGENT}, "close is not taken by signal"),  # only through the API
    ]

    def rejections(n: int) -> Callable[[CaseState], bool]:
        return lambda state: sum(e.type == "signal_rejected" for e in state.timeline) == n

    for count, (name, payload, words) in enumerate(bad, start=1):
        await handle.signal(name, payload)
        state = await case.eventually(rejections(count))
        rejected = state.timeline[-1]
        assert rejected.type == "signal_rejected"
        assert rejected.data == {"signal": name}
        assert rejected.actor == "system"
        assert rejected.detail is not None
        assert words in rejected.detail, (name, rejected.detail)
    await handle.signal("add_note")  # no argument at all
    state = await case.eventually(rejections(len(bad) + 1))
    assert state.timeline[-1].detail == "send exactly one JSON object"
    assert state.stage is Stage.RECEIVED

    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    state = await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    assert state.stage is Stage.ACKNOWLEDGED
    await case.do("answer", AnswerInput(actor=AGENT, answer="Ok"))
    await case.settled()
    assert desk.log.templates() == ["received", "acknowledged", "answered"]
