"""The plan's clocks as plain state: start, warn, breach, escalate, pause, extend.

No Temporal calls here: the case workflow passes ``now`` (always ``workflow.now()``)
so every decision is deterministic and replays the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.case import ClockStatus, ClockView
from contracts.policy import ClockName, ResolvedPolicy

# The survey is the customer's window to answer, not a promise the bank makes:
# it lapses quietly instead of warning, breaching and escalating.
CUSTOMER_SIDE = frozenset({ClockName.SURVEY})

LABELS: dict[ClockName, str] = {
    ClockName.FIRST_RESPONSE: "First-response",
    ClockName.DEPARTMENT_PLAN: "Department-plan",
    ClockName.DEPARTMENT_RESULT: "Department-result",
    ClockName.CUSTOMER_UPDATE: "Customer-update",
    ClockName.INVESTIGATION: "Investigation",
    ClockName.FINAL_REPLY: "Final-reply",
    ClockName.SURVEY: "Survey",
    ClockName.REGULATOR_REPLY: "Regulator-reply",
}


class ClockEventKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    EXPIRY = "expiry"


@dataclass(frozen=True)
class ClockEvent:
    """Something a clock is due to do at ``at``."""

    clock: ClockName
    kind: ClockEventKind
    at: datetime
    level: int = 0

    @property
    def label(self) -> str:
        """Timer summary shown in the Web UI's timeline."""
        name = LABELS[self.clock]
        if self.kind is ClockEventKind.WARNING:
            return f"{name} warning"
        if self.kind is ClockEventKind.ESCALATION:
            return f"{name} escalation to level {self.level}"
        return f"{name} deadline"


def start_clock(name: ClockName, *, now: datetime, deadline: datetime, share: float) -> ClockView:
    """A running clock; its warning falls at ``share`` of the time allowed."""
    clock = ClockView(name=name, status=ClockStatus.RUNNING, started_at=now, deadline=deadline)
    if name not in CUSTOMER_SIDE:
        clock.warning_lead = (deadline - now) * (1 - share)
    _place_warning(clock)
    return clock


def _place_warning(clock: ClockView) -> None:
    """Keep the displayed warning time in step with the deadline."""
    if clock.deadline is None or clock.warning_lead is None or clock.warned:
        clock.warn_at = None
    else:
        clock.warn_at = clock.deadline - clock.warning_lead


def is_open(clock: ClockView) -> bool:
    """Running, paused, or breached and still unmet: someone still owes this."""
    if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        return True
    return clock.status is ClockStatus.BREACHED and clock.met_at is None


def meet(clock: ClockView, *, now: datetime) -> bool:
    """Stop the clock because its obligation is done; True if it was open."""
    if not is_open(clock):
        return False
    clock.met_at = now
    if clock.status is not ClockStatus.BREACHED:
        clock.status = ClockStatus.MET
    clock.remaining_when_paused = None
    clock.warn_at = None
    return True


def pause(clock: ClockView, *, now: datetime) -> None:
    assert clock.deadline is not None
    clock.remaining_when_paused = clock.deadline - now
    clock.status = ClockStatus.PAUSED
    clock.deadline = None
    _place_warning(clock)


def _rearm_warning(clock: ClockView, *, now: datetime) -> None:
    """After an extension, a clock that has already warned warns again before its new
    deadline, if that warning time is still ahead (the lead stays the same)."""
    lead = clock.warning_lead
    if clock.warned and clock.deadline is not None and lead is not None:
        clock.warned = clock.deadline - lead <= now


def resume(clock: ClockView, *, now: datetime) -> None:
    """Resume with the time that was left; the warning keeps its lead on the deadline.

    A clock that warned before its pause warns again only if it was extended while
    paused far enough for the new warning time to lie ahead."""
    assert clock.remaining_when_paused is not None
    clock.deadline = now + clock.remaining_when_paused
    clock.remaining_when_paused = None
    clock.status = ClockStatus.RUNNING
    _rearm_warning(clock, now=now)
    _place_warning(clock)


def extend_to(clock: ClockView, *, new_deadline: datetime, now: datetime) -> None:
    """Move a running clock's deadline; the warning moves with it.

    If the clock has already warned and the moved warning time is still ahead, it
    warns again then: the handler hears before the new deadline too."""
    assert clock.deadline is not None
    clock.deadline = new_deadline
    clock.extensions += 1
    _rearm_warning(clock, now=now)
    _place_warning(clock)


def extend_paused(clock: ClockView, *, by: timedelta) -> None:
    assert clock.remaining_when_paused is not None
    clock.remaining_when_paused += by
    clock.extensions += 1


def next_event(clock: ClockView, policy: ResolvedPolicy) -> ClockEvent | None:
    """The next thing this clock will do on its own, if anything."""
    if clock.status is ClockStatus.RUNNING:
        assert clock.deadline is not None
        if clock.name in CUSTOMER_SIDE:
            return ClockEvent(clock.name, ClockEventKind.EXPIRY, clock.deadline)
        if clock.warn_at is not None and not clock.warned and clock.warn_at < clock.deadline:
            return ClockEvent(clock.name, ClockEventKind.WARNING, clock.warn_at)
        return ClockEvent(clock.name, ClockEventKind.BREACH, clock.deadline)
    if clock.status is ClockStatus.BREACHED and clock.met_at is None:
        if clock.escalation_level >= len(policy.escalation_ladder):
            return None
        assert clock.breached_at is not None
        at = clock.breached_at + policy.escalation_interval * clock.escalation_level
        return ClockEvent(clock.name, ClockEventKind.ESCALATION, at, clock.escalation_level + 1)
    return None


def fire(clock: ClockView, event: ClockEvent) -> None:
    """Apply a due event to the clock's state."""
    if event.kind is ClockEventKind.WARNING:
        clock.warned = True
        clock.warn_at = None
    elif event.kind is ClockEventKind.BREACH:
        clock.status = ClockStatus.BREACHED
        clock.breached_at = event.at
        clock.warned = True
        clock.warn_at = None
        clock.escalation_level = 1
    elif event.kind is ClockEventKind.ESCALATION:
        clock.escalation_level = event.level
    else:
        clock.status = ClockStatus.EXPIRED
