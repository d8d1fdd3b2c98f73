"""The clock math of ``workflows/clocks.py``, without Temporal.

A clock warns when the policy's share of its time has run, breaches at its deadline,
then climbs the escalation ladder one rung per interval until it is met. Pausing keeps
the time that was left; extending moves the deadline and the warning with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.case import ClockStatus, ClockView
from contracts.policy import ClockName, ClockRule, ResolvedPolicy
from workflows import clocks
from workflows.clocks import ClockEvent, ClockEventKind

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
POLICY = ResolvedPolicy(
    version="test",
    clocks={name: ClockRule(duration=timedelta(hours=10)) for name in ClockName},
    escalation_ladder=["team_lead", "supervisor", "branch_manager"],
    escalation_interval=timedelta(hours=2),
)


def ten_hour_clock(name: ClockName = ClockName.INVESTIGATION) -> ClockView:
    """A clock from T0 with a 10 h deadline: the warning falls at 8 h (80 %)."""
    return clocks.start_clock(name, now=T0, deadline=T0 + 10 * HOUR, share=0.8)


def run_until(clock: ClockView, now: datetime) -> list[ClockEvent]:
    """Fire every event due by ``now``, as the case workflow's timer loop does."""
    fired: list[ClockEvent] = []
    while (event := clocks.next_event(clock, POLICY)) is not None and event.at <= now:
        clocks.fire(clock, event)
        fired.append(event)
    return fired


def test_a_started_clock_warns_at_the_policy_share_of_its_time() -> None:
    clock = ten_hour_clock()
    assert clock.status is ClockStatus.RUNNING
    assert clock.warning_lead == 2 * HOUR
    assert clock.warn_at == T0 + 8 * HOUR
    assert clocks.next_event(clock, POLICY) == ClockEvent(
        ClockName.INVESTIGATION, ClockEventKind.WARNING, T0 + 8 * HOUR
    )


def test_the_survey_lapses_quietly_at_its_deadline() -> None:
    survey = ten_hour_clock(ClockName.SURVEY)
    assert survey.warn_at is None
    assert survey.warning_lead is None
    event = clocks.next_event(survey, POLICY)
    assert event == ClockEvent(ClockName.SURVEY, ClockEventKind.EXPIRY, T0 + 10 * HOUR)
    clocks.fire(survey, event)
    assert survey.status is ClockStatus.EXPIRED
    assert clocks.next_event(survey, POLICY) is None


def test_warning_breach_then_one_rung_per_interval_up_the_ladder() -> None:
    clock = ten_hour_clock()
    deadline = T0 + 10 * HOUR
    assert run_until(clock, T0 + 8 * HOUR - timedelta(seconds=1)) == []
    assert [e.kind for e in run_until(clock, T0 + 8 * HOUR)] == [ClockEventKind.WARNING]
    assert clock.warned
    assert clock.warn_at is None
    assert run_until(clock, deadline - timedelta(seconds=1)) == []

    # The breach is the first rung: the team lead hears at the deadline itself.
    assert run_until(clock, deadline) == [
        ClockEvent(ClockName.INVESTIGATION, ClockEventKind.BREACH, deadline)
    ]
    assert clock.status is ClockStatus.BREACHED
    assert clock.breached_at == deadline
    assert clock.escalation_level == 1

    # Then one rung per interval (PT2H) while unmet: supervisor, branch manager.
    assert clocks.next_event(clock, POLICY) == ClockEvent(
        ClockName.INVESTIGATION, ClockEventKind.ESCALATION, deadline + 2 * HOUR, level=2
    )
    assert run_until(clock, deadline + 2 * HOUR - timedelta(seconds=1)) == []
    assert [e.level for e in run_until(clock, deadline + 2 * HOUR)] == [2]
    assert clock.escalation_level == 2
    assert [(e.at, e.level) for e in run_until(clock, deadline + 4 * HOUR)] == [
        (deadline + 4 * HOUR, 3)
    ]
    # The top of the ladder: nothing further, however long it stays unmet.
    assert clocks.next_event(clock, POLICY) is None
    assert clocks.is_open(clock)


def test_events_missed_while_the_worker_was_away_all_fire_in_order() -> None:
    clock = ten_hour_clock()
    fired = run_until(clock, T0 + 30 * HOUR)
    assert [(e.kind, e.at - T0, e.level) for e in fired] == [
        (ClockEventKind.WARNING, 8 * HOUR, 0),
        (ClockEventKind.BREACH, 10 * HOUR, 0),
        (ClockEventKind.ESCALATION, 12 * HOUR, 2),
        (ClockEventKind.ESCALATION, 14 * HOUR, 3),
    ]


def test_meeting_a_breached_clock_stops_the_ladder_and_keeps_the_breach() -> None:
    clock = ten_hour_clock()
    run_until(clock, T0 + 11 * HOUR)
    assert clocks.meet(clock, now=T0 + 11 * HOUR)
    assert clock.status is ClockStatus.BREACHED
    assert clock.met_at == T0 + 11 * HOUR
    assert not clocks.is_open(clock)
    assert clocks.next_event(clock, POLICY) is None
    assert not clocks.meet(clock, now=T0 + 12 * HOUR), "met once only"


def test_meeting_a_running_clock_in_time() -> None:
    clock = ten_hour_clock()
    assert clocks.meet(clock, now=T0 + HOUR)
    assert clock.status is ClockStatus.MET
    assert clock.warn_at is None
    assert clocks.next_event(clock, POLICY) is None


def test_pause_keeps_the_time_left_and_resume_restores_it_with_the_warning_lead() -> None:
    clock = ten_hour_clock()
    clocks.pause(clock, now=T0 + 3 * HOUR)
    assert clock.status is ClockStatus.PAUSED
    assert clock.remaining_when_paused == 7 * HOUR
    assert clock.deadline is None
    assert clock.warn_at is None
    # Paused: nothing fires, however long the customer takes.
    assert clocks.next_event(clock, POLICY) is None
    assert clocks.is_open(clock)

    resumed_at = T0 + 50 * HOUR
    clocks.resume(clock, now=resumed_at)
    assert clocks.next_event(clock, POLICY) is not None
    assert clock.model_dump()["status"] == "running"
    assert clock.deadline == resumed_at + 7 * HOUR
    assert clock.remaining_when_paused is None
    assert clock.warn_at == clock.deadline - 2 * HOUR
    assert [e.kind for e in run_until(clock, resumed_at + 7 * HOUR)] == [
        ClockEventKind.WARNING,
        ClockEventKind.BREACH,
    ]


def test_a_clock_paused_after_its_warning_does_not_warn_again() -> None:
    clock = ten_hour_clock()
    run_until(clock, T0 + 9 * HOUR)
    clocks.pause(clock, now=T0 + 9 * HOUR)
    clocks.resume(clock, now=T0 + 20 * HOUR)
    assert clock.deadline == T0 + 21 * HOUR
    assert clock.warn_at is None
    assert clocks.next_event(clock, POLICY) == ClockEvent(
        ClockName.INVESTIGATION, ClockEventKind.BREACH, T0 + 21 * HOUR
    )


def test_extension_moves_the_deadline_and_the_warning() -> None:
    clock = ten_hour_clock()
    clocks.extend_to(clock, new_deadline=T0 + 13 * HOUR, now=T0 + HOUR)
    assert clock.deadline == T0 + 13 * HOUR
    assert clock.warn_at == T0 + 11 * HOUR
    assert clock.extensions == 1
    assert run_until(clock, T0 + 10 * HOUR) == []
    assert [e.at - T0 for e in run_until(clock, T0 + 13 * HOUR)] == [11 * HOUR, 13 * HOUR]


def test_extension_after_the_warning_warns_again_before_the_new_deadline() -> None:
    clock = ten_hour_clock()
    run_until(clock, T0 + 9 * HOUR)
    assert clock.warned
    # The handler asks for more time once warned: the new deadline gets its warning.
    clocks.extend_to(clock, new_deadline=T0 + 20 * HOUR, now=T0 + 9 * HOUR)
    assert clock.warn_at == T0 + 18 * HOUR
    assert [e.kind for e in run_until(clock, T0 + 18 * HOUR)] == [ClockEventKind.WARNING]


def test_a_short_extension_after_the_warning_does_not_warn_twice() -> None:
    clock = ten_hour_clock()
    run_until(clock, T0 + 9 * HOUR)
    # The new warning time (10.5 h - 2 h) has passed already: no second warning.
    clocks.extend_to(
        clock, new_deadline=T0 + 10 * HOUR + 30 * timedelta(minutes=1), now=T0 + 9 * HOUR
    )
    assert clock.warn_at is None
    assert [e.kind for e in run_until(clock, T0 + 11 * HOUR)] == [ClockEventKind.BREACH]


def test_extending_a_paused_clock_adds_to_the_time_left() -> None:
    clock = ten_hour_clock()
    clocks.pause(clock, now=T0 + 4 * HOUR)
    clocks.extend_paused(clock, by=5 * HOUR)
    assert clock.remaining_when_paused == 11 * HOUR
    assert clock.extensions == 1
    assert clock.deadline is None
    clocks.resume(clock, now=T0 + 30 * HOUR)
    assert clock.deadline == T0 + 41 * HOUR
    assert clock.warn_at == T0 + 39 * HOUR


def test_extending_a_paused_clock_past_its_warning_rearms_it_on_resume() -> None:
    clock = ten_hour_clock()
    run_until(clock, T0 + 9 * HOUR)
    clocks.pause(clock, now=T0 + 9 * HOUR)
    clocks.extend_paused(clock, by=24 * HOUR)
    clocks.resume(clock, now=T0 + 12 * HOUR)
    assert clock.deadline == T0 + 37 * HOUR
    assert clock.warn_at == T0 + 35 * HOUR


def test_escalation_timing_follows_the_policy_interval_and_ladder() -> None:
    policy = POLICY.model_copy(
        update={
            "escalation_ladder": ["lead", "head"],
            "escalation_interval": 30 * timedelta(minutes=1),
        }
    )
    clock = ten_hour_clock()
    deadline = T0 + 10 * HOUR
    fired: list[ClockEvent] = []
    while (event := clocks.next_event(clock, policy)) is not None:
        clocks.fire(clock, event)
        fired.append(event)
    assert [(e.kind, e.at - deadline, e.level) for e in fired[1:]] == [
        (ClockEventKind.BREACH, timedelta(0), 0),
        (ClockEventKind.ESCALATION, timedelta(minutes=30), 2),
    ]
    assert clock.escalation_level == 2


def test_timer_labels_name_the_clock_and_the_rung() -> None:
    at = T0
    assert ClockEvent(ClockName.FINAL_REPLY, ClockEventKind.WARNING, at).label == (
        "Final-reply warning"
    )
    assert ClockEvent(ClockName.FINAL_REPLY, ClockEventKind.BREACH, at).label == (
        "Final-reply deadline"
    )
    assert ClockEvent(ClockName.DEPARTMENT_PLAN, ClockEventKind.ESCALATION, at, 2).label == (
        "Department-plan escalation to level 2"
    )
