"""The case workflow's paths on the time-skipping test server: R2.1, the clocks: warnings,
breaches, the ladder, extensions, pauses.

The harness is ``tests.helpers.paths``; side-effect activities are its stand-ins.
"""

from __future__ import annotations

import pytest

from calendars import is_working_day, zone
from contracts.actions import (
    AcknowledgeInput,
    AddNoteInput,
    AnswerInput,
    AssignOwnerInput,
    EscalateInput,
    ExtendClockInput,
    PauseClockInput,
    RecordDepartmentResultInput,
    RecordInvestigationInput,
    ResumeClockInput,
    SendFinalReplyInput,
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
    DAY,
    HOUR,
    LADDER,
    MINUTE,
    OWNER,
    SECOND,
    SUPERVISOR,
    Desk,
    alerts_for,
    assert_holding_message_for,
    assert_warns_at_80_percent,
    clock_events,
    final_reply_deadline,
    full_ladder,
    ladder,
    walk,
)

# --- R2.1: warnings, breaches and the escalation ladder, clock by clock -----------------


async def test_first_response_warns_breaches_and_climbs_the_ladder(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    state = await case.state()
    first = state.clocks[ClockName.FIRST_RESPONSE]
    assert_warns_at_80_percent(first)
    assert first.warn_at == first.started_at + 4 * MINUTE
    state = await walk(case, ladder(first))
    assert state.clocks[ClockName.FIRST_RESPONSE].escalation_level == 3
    assert state.escalation_level == 3
    assert state.breached
    assert alerts_for(desk.log, ClockName.FIRST_RESPONSE) == full_ladder("frontline_agents")
    # No customer message for a missed first response: the case simply goes on.
    assert desk.log.templates() == ["received"]
    await case.until(first.started_at + 2 * DAY)
    await case.settled()
    assert len(desk.log.staff) == 5, "the top of the ladder is the last alert"

    state = await case.do("answer", AnswerInput(actor=AGENT, answer="Sorry for the wait."))
    assert state.stage is Stage.RESOLVED
    first = state.clocks[ClockName.FIRST_RESPONSE]
    assert first.status is ClockStatus.BREACHED
    assert first.met_at is not None
    assert not state.breached
    assert state.escalation_level == 0


async def test_department_and_customer_update_clocks_breach_and_escalate(desk: Desk) -> None:
    log = desk.log
    case = await desk.open(CaseKind.INQUIRY)
    await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    state = await case.do(
        "transfer", TransferInput(actor=AGENT, department="payments", reason="Lost transfer")
    )
    plan = state.clocks[ClockName.DEPARTMENT_PLAN]
    result = state.clocks[ClockName.DEPARTMENT_RESULT]
    assert_warns_at_80_percent(plan)
    assert_warns_at_80_percent(result)
    state = await walk(case, ladder(plan) + ladder(result))
    assert state.stage is Stage.AWAITING_DEPARTMENT_PLAN, "a breach never ends the case"
    assert alerts_for(log, ClockName.DEPARTMENT_PLAN) == full_ladder("department")
    assert alerts_for(log, ClockName.DEPARTMENT_RESULT) == full_ladder("department")
    assert {s.department for s in log.staff} == {"payments"}
    dept_result_alerts = [s for s in log.staff if s.clock is ClockName.DEPARTMENT_RESULT]
    assert {s.deadline for s in dept_result_alerts} == {result.deadline}
    # R2.2: a missed department result earns the customer a holding message.
    assert log.templates() == ["received", "acknowledged", "transferred", "holding"]
    assert_holding_message_for(log, state, ClockName.DEPARTMENT_RESULT)

    # The late result still moves the case on; the ladders stop.
    state = await case.do(
        "record_department_result", RecordDepartmentResultInput(actor="pay-desk", result="Found it")
    )
    assert state.stage is Stage.AWAITING_CUSTOMER_UPDATE
    assert not state.breached
    for name in (ClockName.DEPARTMENT_PLAN, ClockName.DEPARTMENT_RESULT):
        assert state.clocks[name].status is ClockStatus.BREACHED
        assert state.clocks[name].met_at is not None
    update = state.clocks[ClockName.CUSTOMER_UPDATE]
    assert update.deadline == update.started_at + 4 * HOUR
    assert_warns_at_80_percent(update)
    state = await walk(case, ladder(update))
    assert alerts_for(log, ClockName.CUSTOMER_UPDATE) == full_ladder("agent")
    # The agent who transferred the case owes the customer the news.
    assert {s.recipient_user for s in log.staff if s.clock is ClockName.CUSTOMER_UPDATE} == {
        AGENT,
        None,
    }
    assert log.templates()[-1] == "holding", "no holding message for the customer update"
    assert log.templates().count("holding") == 1
    assert len(alerts_for(log, ClockName.DEPARTMENT_PLAN)) == 5

    state = await case.do("update_customer", UpdateCustomerInput(actor=AGENT, message="Found"))
    assert state.stage is Stage.RESOLVED
    assert not state.breached


async def test_investigation_and_final_reply_breach_and_escalate(desk: Desk) -> None:
    log = desk.log
    case = await desk.open()
    await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    state = await case.do("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
    investigation = state.clocks[ClockName.INVESTIGATION]
    final = state.clocks[ClockName.FINAL_REPLY]
    assert investigation.deadline == state.opened_at + 48 * HOUR  # R4.3
    assert final.deadline == final_reply_deadline(state.opened_at)  # R4.4
    assert_warns_at_80_percent(investigation)
    assert_warns_at_80_percent(final)

    state = await walk(case, ladder(investigation) + ladder(final))
    assert state.stage is Stage.INVESTIGATING, "a breach never ends the case"
    assert alerts_for(log, ClockName.INVESTIGATION) == full_ladder("complaint_owner")
    assert alerts_for(log, ClockName.FINAL_REPLY) == full_ladder("complaint_owner")
    owed = [s.recipient_user for s in log.staff if s.recipient_role == "complaint_owner"]
    assert owed == [OWNER] * 4
    assert log.templates() == ["received", "acknowledged", "holding"]
    assert_holding_message_for(log, state, ClockName.FINAL_REPLY)

    await case.do("record_investigation", RecordInvestigationInput(actor=OWNER, findings="Upheld"))
    state = await case.do("send_final_reply", SendFinalReplyInput(actor=OWNER, reply="Refunded"))
    assert state.stage is Stage.RESOLVED
    assert not state.breached
    assert state.clocks[ClockName.FINAL_REPLY].met_at is not None


# --- extensions and pauses -------------------------------------------------------------


async def test_extension_by_duration_and_by_working_days_is_recorded(desk: Desk) -> None:
    case = await desk.open()
    await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    state = await case.do("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
    before = state.clocks[ClockName.INVESTIGATION]
    assert before.deadline is not None
    assert before.warn_at is not None

    state = await case.do(
        "extend_clock",
        ExtendClockInput(
            actor=SUPERVISOR,
            clock=ClockName.INVESTIGATION,
            by=12 * HOUR,
            reason="Waiting for the card processor's logs",
        ),
    )
    after = state.clocks[ClockName.INVESTIGATION]
    assert after.deadline == before.deadline + 12 * HOUR
    assert after.warn_at == before.warn_at + 12 * HOUR, "the warning moves with the deadline"
    assert after.extensions == 1
    event = state.timeline[-1]
    assert (event.type, event.actor, event.detail) == (
        "clock_extended",
        SUPERVISOR,
        "Waiting for the card processor's logs",
    )
    assert event.data == {"clock": "investigation", "deadline": after.deadline.isoformat()}

    final_before = state.clocks[ClockName.FINAL_REPLY]
    assert final_before.deadline is not None
    state = await case.do(
        "extend_clock",
        ExtendClockInput(
            actor=SUPERVISOR, clock=ClockName.FINAL_REPLY, working_days=2, reason="Holiday rush"
        ),
    )
    final = state.clocks[ClockName.FINAL_REPLY]
    assert final.deadline is not None
    assert final.deadline > final_before.deadline + DAY
    # Still a working-day deadline: midnight in Beijing after a working day.
    local = final.deadline.astimezone(zone("Asia/Shanghai"))
    assert (local.hour, local.minute) == (0, 0)
    assert is_working_day(local.date() - DAY, "CN")
    assert final.extensions == 1
    event = state.timeline[-1]
    assert (event.type, event.detail, event.data["clock"]) == (
        "clock_extended",
        "Holiday rush",
        "final_reply",
    )

    # The warning now falls at its new place, not the old one.
    await case.until(before.warn_at + MINUTE)
    assert "clock_warning" not in clock_events(await case.state(), ClockName.INVESTIGATION)
    await walk(case, ladder(after)[:2])


async def test_extension_by_working_days_counts_from_the_last_day_allowed(
    desk: Desk,
) -> None:
    # Open on a day whose final-reply deadline is followed by a working day, where
    # counting from the deadline's own date would add one working day too many.
    tz = zone("Asia/Shanghai")
    for _ in range(14):
        now = await desk.env.get_current_time()
        if is_working_day(final_reply_deadline(now).astimezone(tz).date(), "CN"):
            break
        await desk.env.sleep(DAY)
    else:
        pytest.fail("no such day in two weeks")
    case = await desk.open()
    state = await case.do(
        "extend_clock",
        ExtendClockInput(
            actor=SUPERVISOR, clock=ClockName.FINAL_REPLY, working_days=2, reason="Peak"
        ),
    )
    # Seven working days extended by two are nine working days from receipt.
    assert state.clocks[ClockName.FINAL_REPLY].deadline == final_reply_deadline(state.opened_at, 9)


async def test_extending_a_breached_clock_is_refused(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    state = await case.state()
    await case.until(state.opened_at + 6 * MINUTE)
    before = await case.settled()
    assert before.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.BREACHED
    for input in (
        ExtendClockInput(actor=SUPERVISOR, clock=ClockName.FIRST_RESPONSE, by=HOUR, reason="x"),
        ExtendClockInput(
            actor=SUPERVISOR, clock=ClockName.FIRST_RESPONSE, working_days=1, reason="x"
        ),
    ):
        reason = await case.refused("extend_clock", input)
        assert "breached" in reason
        assert "before the deadline" in reason
    assert await case.state() == before


async def test_pause_while_waiting_on_the_customer_then_resume_with_the_time_left(
    desk: Desk,
) -> None:
    case = await desk.open()
    await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    state = await case.do("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
    started = state.clocks[ClockName.INVESTIGATION].started_at
    await case.until(started + 10 * HOUR)
    state = await case.do(
        "pause_clock",
        PauseClockInput(
            actor=OWNER, clock=ClockName.INVESTIGATION, reason="Waiting for the customer's slip"
        ),
    )
    paused = state.clocks[ClockName.INVESTIGATION]
    assert paused.status is ClockStatus.PAUSED
    assert paused.deadline is None
    assert paused.remaining_when_paused is not None
    assert abs(paused.remaining_when_paused - 38 * HOUR) < SECOND
    left = paused.remaining_when_paused
    assert state.timeline[-1].type == "clock_paused"
    assert state.timeline[-1].detail == "Waiting for the customer's slip"

    # Long past the original deadline and its ladder: nothing fires while paused.
    await case.until(started + 60 * HOUR)
    state = await case.state()
    assert state.clocks[ClockName.INVESTIGATION].status is ClockStatus.PAUSED
    assert clock_events(state, ClockName.INVESTIGATION) == ["clock_paused"]
    assert alerts_for(desk.log, ClockName.INVESTIGATION) == []

    # Extending a paused clock adds to the time left.
    state = await case.do(
        "extend_clock",
        ExtendClockInput(actor=SUPERVISOR, clock=ClockName.INVESTIGATION, by=5 * HOUR, reason="x"),
    )
    assert state.clocks[ClockName.INVESTIGATION].remaining_when_paused == left + 5 * HOUR
    reason = await case.refused(
        "extend_clock",
        ExtendClockInput(
            actor=SUPERVISOR, clock=ClockName.INVESTIGATION, working_days=1, reason="x"
        ),
    )
    assert "resume it first" in reason

    resumed_at = await case.now()
    state = await case.do(
        "resume_clock", ResumeClockInput(actor=OWNER, clock=ClockName.INVESTIGATION)
    )
    resumed = state.clocks[ClockName.INVESTIGATION]
    assert resumed.status is ClockStatus.RUNNING
    assert resumed.deadline is not None
    assert abs(resumed.deadline - (resumed_at + 43 * HOUR)) < SECOND
    assert resumed.deadline == state.timeline[-1].at + left + 5 * HOUR
    assert resumed.warning_lead == 48 * HOUR * (1 - 0.8)
    assert resumed.warn_at == resumed.deadline - 48 * HOUR * (1 - 0.8)
    assert resumed.extensions == 1
    await walk(case, ladder(resumed)[:2])
    assert [a[0] for a in alerts_for(desk.log, ClockName.INVESTIGATION)][:2] == [
        "warning",
        "breach",
    ]


async def test_extension_after_the_warning_warns_again_before_the_new_deadline(
    desk: Desk,
) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    await case.do("transfer", TransferInput(actor=AGENT, department="cards", reason="Fees"))
    state = await case.state()
    plan = state.clocks[ClockName.DEPARTMENT_PLAN]
    assert plan.warn_at is not None
    await case.until(plan.warn_at + HOUR)
    state = await case.do(
        "extend_clock",
        ExtendClockInput(
            actor=SUPERVISOR, clock=ClockName.DEPARTMENT_PLAN, by=24 * HOUR, reason="Audit"
        ),
    )
    extended = state.clocks[ClockName.DEPARTMENT_PLAN]
    assert extended.warn_at == plan.warn_at + 24 * HOUR
    await case.until(extended.warn_at + SECOND)
    state = await case.settled()
    warnings = [e for e in state.timeline if e.type == "clock_warning"]
    assert [(e.data["clock"], e.at) for e in warnings if e.data["clock"] == "department_plan"] == [
        ("department_plan", plan.warn_at),
        ("department_plan", extended.warn_at),
    ]


# --- manual escalation and notes -------------------------------------------------------


async def test_manual_escalation_climbs_the_ladder_and_notes_are_recorded(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    state = await case.do("add_note", AddNoteInput(actor=AGENT, note="Customer called twice"))
    note = state.timeline[-1]
    assert (note.type, note.actor, note.detail) == ("note_added", AGENT, "Customer called twice")
    for level in range(1, len(LADDER) + 1):
        state = await case.do("escalate", EscalateInput(actor=AGENT, reason=f"Angry {level}"))
        assert state.escalation_level == level
        event = state.timeline[-1]
        assert (event.type, event.data["level"], event.detail) == (
            "escalated",
            level,
            f"Angry {level}",
        )
    reason = await case.refused("escalate", EscalateInput(actor=AGENT, reason="More"))
    assert "top of the escalation ladder" in reason
    await case.settled()
    assert [(s.kind.value, s.clock, s.recipient_role, s.level) for s in desk.log.staff] == [
        ("escalation", None, role, level) for level, role in enumerate(LADDER, start=1)
    ]
    assert "Angry 1" in desk.log.staff[0].message
    # A note has no effect outside the timeline.
    assert desk.log.templates() == ["received", "acknowledged"]
