"""The clocks' own rules: supervisors extend, pause, resume and escalate them; they
warn, breach and climb the escalation ladder on their own (R2.1: at the deadline, not
found later by a sweep), and each of those moments is announced here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from contracts.actions import (
    ActionName,
    EscalateBody,
    EscalateInput,
    ExtendClockBody,
    ExtendClockInput,
    PauseClockBody,
    PauseClockInput,
    ResumeClockBody,
    ResumeClockInput,
)
from contracts.activities import CustomerTemplate, StaffAlertKind
from contracts.case import ClockStatus
from contracts.policy import ClockName
from workflows import clocks
from workflows.case_file import SYSTEM, CaseFile, invalid, reject
from workflows.clocks import ClockEvent, ClockEventKind
from workflows.effects import NotifyStaff
from workflows.rules.table import ActionRule, CountedDeadline, CountingRule, WorkingDayCount

# --- extend, pause, resume: a supervisor's changes ----------------------------------------

# The deadline is the midnight that ends the last working day allowed; counting from the
# instant before it keeps that day from counting as the day of receipt.
_BEFORE_DEADLINE = timedelta(microseconds=1)


def _not_the_regulators(name: ClockName, action: str) -> None:
    """The regulator's limit is the rule's, not a supervisor's: it moves only by the
    rule's own extensions (``extend_regulator_clock``), and never pauses."""
    if name is ClockName.REGULATOR_REPLY:
        raise reject(
            f"clock {name.value} is the regulator's limit; it is not {action}"
            " (its extensions are extend_regulator_clock, as the rule allows)"
        )


def check_extend_clock(case: CaseFile, input: ExtendClockInput, now: datetime) -> None:
    _not_the_regulators(input.clock, "extended by hand")
    clock = case.clock(input.clock)
    if (input.by is None) == (input.working_days is None):
        raise invalid("by: give either 'by' (an ISO-8601 duration) or 'working_days'")
    if clock.status is ClockStatus.PAUSED and input.working_days is not None:
        raise reject("a paused clock is extended by a duration; resume it first")
    if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        raise reject(
            f"clock {input.clock.value} is {clock.status.value}; only a running or paused"
            " clock can be extended (extensions are granted before the deadline)"
        )


def extension_counts(
    case: CaseFile, input: ExtendClockInput, now: datetime
) -> dict[str, WorkingDayCount]:
    """An extension by working days is counted from the current deadline."""
    if input.working_days is None:
        return {}
    deadline = case.state.clocks[input.clock].deadline
    assert deadline is not None
    return {"deadline": WorkingDayCount(start=deadline - _BEFORE_DEADLINE, days=input.working_days)}


def apply_extend_clock(
    case: CaseFile, input: ExtendClockInput, now: datetime, counted: Mapping[str, CountedDeadline]
) -> None:
    clock = case.state.clocks[input.clock]
    if input.working_days is not None:
        result = counted["deadline"]
        if clock.deadline != result.count.start + _BEFORE_DEADLINE:
            raise reject(
                f"clock {input.clock.value} changed while its extension was counted;"
                " send the extension again"
            )
        clocks.extend_to(clock, new_deadline=result.deadline, now=now)
    elif clock.status is ClockStatus.PAUSED:
        assert input.by is not None
        clocks.extend_paused(clock, by=input.by)
    else:
        assert input.by is not None
        assert clock.deadline is not None
        clocks.extend_to(clock, new_deadline=clock.deadline + input.by, now=now)
    case.record(
        "clock_extended",
        at=now,
        actor=input.actor,
        detail=input.reason,
        clock=input.clock.value,
        deadline=clock.deadline.isoformat() if clock.deadline else None,
    )


EXTEND_CLOCK = CountingRule(
    ActionName.EXTEND_CLOCK,
    ExtendClockBody,
    ExtendClockInput,
    check_extend_clock,
    extension_counts,
    apply_extend_clock,
)


def check_pause_clock(case: CaseFile, input: PauseClockInput, now: datetime) -> None:
    if input.clock in clocks.CUSTOMER_SIDE:
        raise reject(f"clock {input.clock.value} is the customer's window; it is not paused")
    _not_the_regulators(input.clock, "paused")
    clock = case.clock(input.clock)
    if clock.status is not ClockStatus.RUNNING:
        raise reject(f"clock {input.clock.value} is {clock.status.value}, not running")


def apply_pause_clock(case: CaseFile, input: PauseClockInput, now: datetime) -> None:
    clocks.pause(case.state.clocks[input.clock], now=now)
    case.record(
        "clock_paused", at=now, actor=input.actor, detail=input.reason, clock=input.clock.value
    )


PAUSE_CLOCK = ActionRule(
    ActionName.PAUSE_CLOCK, PauseClockBody, PauseClockInput, check_pause_clock, apply_pause_clock
)


def check_resume_clock(case: CaseFile, input: ResumeClockInput, now: datetime) -> None:
    clock = case.clock(input.clock)
    if clock.status is not ClockStatus.PAUSED:
        raise reject(f"clock {input.clock.value} is {clock.status.value}, not paused")


def apply_resume_clock(case: CaseFile, input: ResumeClockInput, now: datetime) -> None:
    clocks.resume(case.state.clocks[input.clock], now=now)
    case.record(
        "clock_resumed", at=now, actor=input.actor, detail=input.reason, clock=input.clock.value
    )


RESUME_CLOCK = ActionRule(
    ActionName.RESUME_CLOCK,
    ResumeClockBody,
    ResumeClockInput,
    check_resume_clock,
    apply_resume_clock,
)


def check_escalate(case: CaseFile, input: EscalateInput, now: datetime) -> None:
    case.require_open()
    if case.state.escalation_level >= len(case.resolved_policy().escalation_ladder):
        raise reject("the case is already at the top of the escalation ladder")


def apply_escalate(case: CaseFile, input: EscalateInput, now: datetime) -> None:
    ladder = case.resolved_policy().escalation_ladder
    case.manual_escalation = case.state.escalation_level + 1
    level = case.manual_escalation
    seq = case.record("escalated", at=now, actor=input.actor, detail=input.reason, level=level)
    case.effects.append(
        NotifyStaff(
            StaffAlertKind.ESCALATION,
            None,
            ladder[level - 1],
            None,
            case.state.department,
            level,
            None,
            f"Case {case.state.case_id} escalated by {input.actor}: {input.reason}",
            seq,
        )
    )


ESCALATE = ActionRule(
    ActionName.ESCALATE, EscalateBody, EscalateInput, check_escalate, apply_escalate
)

# --- clocks firing on their own, and who hears of it ------------------------------------


def next_clock_event(case: CaseFile) -> ClockEvent | None:
    policy = case.resolved_policy()
    events = [
        e for c in case.state.clocks.values() if (e := clocks.next_event(c, policy)) is not None
    ]
    return min(events, key=lambda e: e.at, default=None)


def fire_due(case: CaseFile, *, now: datetime) -> None:
    """Fire every clock event due by ``now`` (R2.1: at the deadline, not later)."""
    while (event := next_clock_event(case)) is not None and event.at <= now:
        clock = case.state.clocks[event.clock]
        clocks.fire(clock, event)
        _announce(case, event, now=now)
    case.refresh_summary()


def _responsible(case: CaseFile, name: ClockName) -> tuple[str, str | None, str | None]:
    """Who owes this clock: (role, user, department)."""
    if name in (ClockName.DEPARTMENT_PLAN, ClockName.DEPARTMENT_RESULT):
        return "department", None, case.state.department
    if name is ClockName.CUSTOMER_UPDATE:
        return "agent", case.transferred_by or case.state.owner, None
    if name in (ClockName.INVESTIGATION, ClockName.FINAL_REPLY, ClockName.REGULATOR_REPLY):
        return "complaint_owner", case.state.owner, None
    return "frontline_agents", None, None


def _announce(case: CaseFile, event: ClockEvent, *, now: datetime) -> None:
    clock = case.state.clocks[event.clock]
    name = event.clock.value
    if event.kind is ClockEventKind.EXPIRY:
        case.record("survey_expired", at=event.at, actor=SYSTEM, clock=name)
        return
    ladder = case.resolved_policy().escalation_ladder
    role, user, department = _responsible(case, event.clock)
    deadline = clock.deadline
    case_id = case.state.case_id
    if event.kind is ClockEventKind.WARNING:
        seq = case.record("clock_warning", at=event.at, actor=SYSTEM, clock=name)
        alert, message = StaffAlertKind.WARNING, f"Case {case_id}: {name} deadline approaching"
    elif event.kind is ClockEventKind.BREACH:
        # ``at`` is the deadline; ``detected_at`` when the timer fired (for audit).
        seq = case.record(
            "clock_breached", at=event.at, actor=SYSTEM, clock=name, detected_at=now.isoformat()
        )
        alert, message = StaffAlertKind.BREACH, f"Case {case_id}: {name} deadline missed"
        case.effects.append(
            NotifyStaff(alert, event.clock, role, user, department, 0, deadline, message, seq)
        )
        if event.clock in (ClockName.DEPARTMENT_RESULT, ClockName.FINAL_REPLY):
            # The customer hears that the bank is still on it, not silence (R2.2).
            case.notify_customer(CustomerTemplate.HOLDING, seq)
        role, user = ladder[0], None
        alert = StaffAlertKind.ESCALATION
        message = f"Case {case_id}: {name} deadline missed; escalated to {ladder[0]}"
    else:
        seq = case.record(
            "clock_escalated", at=event.at, actor=SYSTEM, clock=name, level=event.level
        )
        role, user = ladder[event.level - 1], None
        alert = StaffAlertKind.ESCALATION
        message = f"Case {case_id}: {name} still unmet; escalated to {role}"
    # The clock's rung after firing: 0 for a warning, 1 for the breach (the first
    # rung of the ladder hears at the deadline), then the escalation's own level.
    level = clock.escalation_level
    case.effects.append(
        NotifyStaff(alert, event.clock, role, user, department, level, deadline, message, seq)
    )
