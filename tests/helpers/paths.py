"""The path tests' harness: a ``Desk`` (a worker with stand-in side effects) opening
``Case``s on the time-skipping test server, and what the clocks are expected to do.

Side-effect activities are the harness's stand-ins (``tests.case_harness``), so each
test asserts exactly which customer messages, staff alerts, department dispatches,
ledger entries and feedback records the case asked for; the policy and calendar
activities are the real ones. The fixtures are in ``tests.helpers.path_fixtures``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from calendars import working_day_deadline
from contracts.actions import (
    Action,
)
from contracts.case import (
    CaseKind,
    CaseState,
    ClockView,
    TimelineEvent,
)
from contracts.policy import ClockName
from settings.app import get_settings
from tests.case_harness import EffectLog, intake, open_case
from workflows.case import CaseWorkflow

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# The plan's figures, as policy/default.toml sets them.
INTERVAL = 2 * HOUR
LADDER = ["team_lead", "supervisor", "branch_manager"]
AGENT, OWNER, SUPERVISOR, CUSTOMER = "agent-li", "owner-zhang", "supervisor-wu", "customer"
DEFAULT_POLICY = resources.files("policy").joinpath("default.toml").read_text("utf-8")

_ids = iter(range(1, 1_000_000))


def new_id() -> str:
    return f"P{os.getpid()}-{next(_ids):04d}"


def final_reply_deadline(start: datetime, working_days: int = 7) -> datetime:
    """R4.4 by the real calendar: the midnight after the Nth working day (Beijing)."""
    return working_day_deadline(
        start, working_days, timezone="Asia/Shanghai", calendar="CN", subdivision=None
    )


# --- driving one case ------------------------------------------------------------------


@dataclass
class Case:
    env: WorkflowEnvironment
    handle: WorkflowHandle[CaseWorkflow, CaseState]
    log: EffectLog

    async def state(self) -> CaseState:
        return await self.handle.query(CaseWorkflow.get_state)

    async def do(self, action: str, input: Action) -> CaseState:
        """An action as the API sends it: an update that answers with the case."""
        state = await self.handle.execute_update(action, input, result_type=CaseState)
        assert isinstance(state, CaseState)
        return state

    async def refused(self, action: str, input: Action, kind: str = "ActionRejected") -> str:
        """The action fails with an ``ApplicationError`` of ``kind``; its reason."""
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await self.do(action, input)
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError), cause
        assert cause.type == kind, (action, cause.type, cause.message)
        return cause.message

    async def settled(self) -> CaseState:
        """The case once every effect queued so far has run.

        The register has caught up with the timeline and no effect is queued or
        under way.
        """
        async with asyncio.timeout(10):
            while True:
                state = await self.state()
                pending = await self.handle.query(CaseWorkflow.get_pending_effects)
                if self.log.projected_upto() >= len(state.timeline) and pending == 0:
                    return state
                await asyncio.sleep(0.01)

    async def eventually(self, check: Callable[[CaseState], bool]) -> CaseState:
        """Poll the case until ``check`` holds (signals give no answer to wait on)."""
        async with asyncio.timeout(10):
            while True:
                state = await self.state()
                if check(state):
                    return state
                await asyncio.sleep(0.01)

    async def outcome(self) -> CaseState:
        """The workflow's result, once it has ended.

        Waiting for a result normally lets the test server skip time; once the case
        has ended that would leap the shared clock to the next timer it knows of
        (years ahead), so tests cross time with ``until`` and then ask.
        """
        with self.env.auto_time_skipping_disabled():
            return await self.handle.result()

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def until(self, at: datetime) -> None:
        """Let the test server's clock run to ``at``; the case's timers fire on the way."""
        delta = at - await self.now()
        if delta > timedelta(0):
            if not self.env.supports_time_skipping and delta > 10 * SECOND:
                pytest.skip(f"needs the time-skipping server to cross {delta}")
            await self.env.sleep(delta)


@dataclass
class Desk:
    """A worker with stand-in effects, and the cases it opens."""

    env: WorkflowEnvironment
    task_queue: str
    log: EffectLog
    cases: list[Case] = field(default_factory=list)

    async def open(self, kind: CaseKind = CaseKind.COMPLAINT, **kwargs: Any) -> Case:
        handle = await open_case(self.env.client, self.task_queue, intake(new_id(), kind, **kwargs))
        receipt = await handle.execute_update(CaseWorkflow.confirm_intake)
        assert receipt.first
        case = self.track(handle)
        await case.settled()
        return case

    def track(self, handle: WorkflowHandle[CaseWorkflow, CaseState]) -> Case:
        case = Case(self.env, handle, self.log)
        self.cases.append(case)
        return case

    async def clear(self) -> None:
        """Cancel the cases still running, while their worker is still there.

        The test server is shared by every test of this module and skips time only
        while nothing is in flight: a case left behind without its worker, or cancelled
        with an activity under way, stalls every later test's sleep. So each case first
        settles, then is cancelled and its end awaited without skipping time.
        """
        for case in self.cases:
            description = await case.handle.describe()
            if description.status is not WorkflowExecutionStatus.RUNNING:
                continue
            with contextlib.suppress(TimeoutError):
                await case.settled()
            await case.handle.cancel()
            with contextlib.suppress(WorkflowFailureError):
                await case.outcome()


class PolicyFiles:
    """Point ``CASE_POLICY_FILE`` at edited copies of the default policy."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "policy.toml"

    def use(self, **edits: str) -> Path:
        """The default policy with ``key = value`` lines replaced, e.g.
        ``use(reopen_window='"P3D"')``; ``version`` names the copy."""
        lines = []
        for line in DEFAULT_POLICY.splitlines():
            key = line.split("=")[0].strip()
            if key in edits and "=" in line:
                line = f"{key} = {edits.pop(key)}"
            lines.append(line)
        assert not edits, f"no such keys in default.toml: {edits}"
        self.path.write_text("\n".join(lines) + "\n", "utf-8")
        os.environ["CASE_POLICY_FILE"] = str(self.path)
        get_settings.cache_clear()
        return self.path

    def default(self) -> None:
        os.environ.pop("CASE_POLICY_FILE", None)
        get_settings.cache_clear()


# --- what the clocks are expected to do ------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A clock event the case must record at ``at``, and not a second earlier."""

    at: datetime
    type: str
    clock: ClockName
    level: int | None = None


def ladder(clock: ClockView) -> list[Due]:
    """Warning, breach, then one rung per interval: the policy's whole ladder."""
    assert clock.warn_at is not None
    assert clock.deadline is not None
    return [
        Due(clock.warn_at, "clock_warning", clock.name),
        Due(clock.deadline, "clock_breached", clock.name),
        Due(clock.deadline + INTERVAL, "clock_escalated", clock.name, 2),
        Due(clock.deadline + 2 * INTERVAL, "clock_escalated", clock.name, 3),
    ]


def recorded(state: CaseState, due: Due) -> list[TimelineEvent]:
    return [
        e
        for e in state.timeline
        if e.type == due.type
        and e.data.get("clock") == due.clock.value
        and (due.level is None or e.data.get("level") == due.level)
    ]


def clock_events(state: CaseState, clock: ClockName) -> list[str]:
    return [e.type for e in state.timeline if e.data.get("clock") == clock.value]


async def walk(case: Case, schedule: list[Due]) -> CaseState:
    """Cross each due event in time order: absent a second before, recorded at its time
    a second after (R2.1: at the deadline, not by a later sweep)."""
    state = await case.state()
    for due in sorted(schedule, key=lambda d: d.at):
        await case.until(due.at - SECOND)
        state = await case.state()
        assert recorded(state, due) == [], f"{due} fired early"
        await case.until(due.at + SECOND)
        state = await case.state()
        assert [e.at for e in recorded(state, due)] == [due.at], f"{due} did not fire"
    return await case.settled()


def alerts_for(log: EffectLog, clock: ClockName) -> list[tuple[str, str, int]]:
    return [(s.kind.value, s.recipient_role, s.level) for s in log.staff if s.clock is clock]


def full_ladder(role: str) -> list[tuple[str, str, int]]:
    """The staff alerts of a clock left unmet: the one who owes it is warned and told of
    the breach; the ladder hears one rung at a time."""
    return [
        ("warning", role, 0),
        ("breach", role, 0),
        ("escalation", LADDER[0], 1),
        ("escalation", LADDER[1], 2),
        ("escalation", LADDER[2], 3),
    ]


def assert_holding_message_for(log: EffectLog, state: CaseState, clock: ClockName) -> None:
    """The customer's holding message was sent for this clock's breach."""
    [breach] = [
        e for e in state.timeline if e.type == "clock_breached" and e.data["clock"] == clock.value
    ]
    [holding] = [n for n in log.customer if n.template.value == "holding"]
    assert holding.notification_id == f"{state.case_id}-{breach.seq}-holding"


def assert_warns_at_80_percent(clock: ClockView) -> None:
    assert clock.warn_at is not None
    assert clock.deadline is not None
    allowed = clock.deadline - clock.started_at
    assert abs((clock.warn_at - clock.started_at) - allowed * 0.8) < timedelta(milliseconds=1)
