"""Every path of the case workflow, on the time-skipping test server.

Each test drives a real ``CaseWorkflow`` with updates, signals and time: days of
deadlines pass in milliseconds through ``env.sleep``. Side-effect activities are the
harness's stand-ins, so each test asserts exactly which customer messages, staff
alerts, department dispatches, ledger entries and feedback records the case asked
for; the policy and calendar activities are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from calendars import is_working_day, working_day_deadline, zone
from codec.converter import case_data_converter
from policy.model import ClockName
from settings.app import Settings, get_settings
from tests.case_harness import EffectLog, case_worker, intake, open_case
from tests.conftest import binary
from workflows.case import ACTIONS, CaseWorkflow, case_workflow_id
from workflows.messages import (
    AcknowledgeInput,
    Action,
    AnswerInput,
    ApproveRemedyInput,
    AssignOwnerInput,
    CaseKind,
    CaseState,
    ClockStatus,
    ClockView,
    CloseInput,
    CustomerUpdateInput,
    DepartmentPlanInput,
    DepartmentResultInput,
    EscalateInput,
    ExtendClockInput,
    FeedbackInput,
    FinalReplyInput,
    InvestigationInput,
    NoteInput,
    PauseClockInput,
    ProposeRemedyInput,
    RemedyKind,
    RemedyStatus,
    ReopenInput,
    ResumeClockInput,
    Stage,
    TimelineEvent,
    TransferInput,
)

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


@pytest.fixture(scope="module")
async def time_skipping_env(plain_settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """This module's own time-skipping test server (the same binary and converter as
    the shared one in ``conftest.py``).

    The server's clock is one for all its workflows: a case another module leaves
    running after its worker has gone stalls time skipping at that case's next timer.
    Every case here is cleaned up (``Desk.clear``); a server of its own keeps these
    tests independent of whether other modules do the same.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=case_data_converter(plain_settings),
    )
    async with env:
        yield env


@pytest.fixture
async def desk(time_skipping_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Desk]:
    log = EffectLog()
    async with case_worker(time_skipping_env.client, task_queue, log):
        desk = Desk(time_skipping_env, task_queue, log)
        try:
            yield desk
        finally:
            await desk.clear()


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


@pytest.fixture
def policy_files(tmp_path: Path) -> Iterator[PolicyFiles]:
    saved = os.environ.get("CASE_POLICY_FILE")
    files = PolicyFiles(tmp_path)
    try:
        yield files
    finally:
        if saved is None:
            os.environ.pop("CASE_POLICY_FILE", None)
        else:
            os.environ["CASE_POLICY_FILE"] = saved
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
        "record_department_plan", DepartmentPlanInput(actor="cards-desk", plan="Refund check")
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
        DepartmentResultInput(actor="cards-desk", result="Fee refunded in full"),
    )
    assert state.stage is Stage.AWAITING_CUSTOMER_UPDATE
    assert state.clocks[ClockName.DEPARTMENT_RESULT].status is ClockStatus.MET
    update = state.clocks[ClockName.CUSTOMER_UPDATE]
    assert update.status is ClockStatus.RUNNING
    assert update.deadline == update.started_at + 4 * HOUR  # R3.7

    await case.until(update.started_at + HOUR)
    state = await case.do(
        "update_customer", CustomerUpdateInput(actor=AGENT, message="Your fee is refunded.")
    )
    assert state.stage is Stage.RESOLVED
    assert state.clocks[ClockName.CUSTOMER_UPDATE].status is ClockStatus.MET

    state = await case.do("close", CloseInput(actor=AGENT, reason="Customer satisfied"))
    assert state.stage is Stage.CLOSED
    assert state.closed_at is not None
    assert state.reopen_until == state.closed_at + 14 * DAY
    survey = state.clocks[ClockName.SURVEY]
    assert survey.deadline == survey.started_at + 7 * DAY
    state = await case.do("record_feedback", FeedbackInput(actor=CUSTOMER, score=4, comment="ok"))
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
        "record_department_result", DepartmentResultInput(actor="loans-desk", result="Done")
    )
    assert state.stage is Stage.AWAITING_CUSTOMER_UPDATE
    assert state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.MET
    assert state.clocks[ClockName.DEPARTMENT_PLAN].status is ClockStatus.MET
    assert state.clocks[ClockName.DEPARTMENT_RESULT].status is ClockStatus.MET


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
        "record_department_result", DepartmentResultInput(actor="pay-desk", result="Found it")
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

    state = await case.do("update_customer", CustomerUpdateInput(actor=AGENT, message="Found"))
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

    await case.do("record_investigation", InvestigationInput(actor=OWNER, findings="Upheld"))
    state = await case.do("send_final_reply", FinalReplyInput(actor=OWNER, reply="Refunded"))
    assert state.stage is Stage.RESOLVED
    assert not state.breached
    assert state.clocks[ClockName.FINAL_REPLY].met_at is not None


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
        "record_investigation", InvestigationInput(actor=OWNER, findings="Fee wrongly charged")
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
    reason = await case.refused("send_final_reply", FinalReplyInput(actor=OWNER, reply="Done"))
    assert "R2" in reason
    assert "approval" in reason
    reason = await case.refused(
        "decide_remedy", ApproveRemedyInput(actor=OWNER, remedy_id="R2"), kind="InvalidAction"
    )
    assert "proposer" in reason
    state = await case.do(
        "decide_remedy", ApproveRemedyInput(actor=SUPERVISOR, remedy_id="R2", reason="Fair")
    )
    r2 = state.remedies[1]
    assert (r2.status, r2.decided_by) == (RemedyStatus.APPROVED, SUPERVISOR)
    await case.settled()
    assert [(r.remedy.remedy_id, r.remedy.decided_by) for r in log.remedies] == [
        ("R1", OWNER),
        ("R2", SUPERVISOR),
    ]
    reason = await case.refused("decide_remedy", ApproveRemedyInput(actor="boss", remedy_id="R2"))
    assert "already approved" in reason

    state = await case.do(
        "send_final_reply", FinalReplyInput(actor=OWNER, reply="We refund and compensate.")
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
    await case.do("record_investigation", InvestigationInput(actor=OWNER, findings="Paid late"))
    await case.do("send_final_reply", FinalReplyInput(actor=OWNER, reply="Paid today."))
    state = await case.do("close", CloseInput(actor=OWNER))
    closed_again = state.closed_at
    assert closed_again is not None

    await case.until(closed_again + 2 * DAY)
    state = await case.do("record_feedback", FeedbackInput(actor=CUSTOMER, score=5))
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

    await case.do("record_feedback", FeedbackInput(actor=CUSTOMER, score=4))
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
    await case.do("record_department_plan", DepartmentPlanInput(actor="cards", plan="Look"))
    await case.do("record_department_result", DepartmentResultInput(actor="cards", result="Ok"))
    state = await case.do("update_customer", CustomerUpdateInput(actor=OWNER, message="News"))
    assert state.stage is Stage.INVESTIGATING
    state = await case.do("record_investigation", InvestigationInput(actor=OWNER, findings="x"))
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
    state = await case.do("add_note", NoteInput(actor=AGENT, note="Customer called twice"))
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


# --- actions that do not fit -----------------------------------------------------------

Act = tuple[str, Action]
Step = Act | timedelta

ACK: Act = ("acknowledge", AcknowledgeInput(actor=AGENT))
TRANSFER: Act = ("transfer", TransferInput(actor=AGENT, department="cards", reason="Fees"))
PLAN: Act = ("record_department_plan", DepartmentPlanInput(actor="cards", plan="Plan"))
RESULT: Act = ("record_department_result", DepartmentResultInput(actor="cards", result="Ok"))
UPDATE: Act = ("update_customer", CustomerUpdateInput(actor=AGENT, message="Done"))
ANSWER: Act = ("answer", AnswerInput(actor=AGENT, answer="Done"))
CLOSE: Act = ("close", CloseInput(actor=AGENT))
REOPEN: Act = ("reopen", ReopenInput(actor=AGENT, reason="Again"))
OWN: Act = ("assign_owner", AssignOwnerInput(actor=SUPERVISOR, owner=OWNER))
INVESTIGATE: Act = ("record_investigation", InvestigationInput(actor=OWNER, findings="Yes"))
REPLY: Act = ("send_final_reply", FinalReplyInput(actor=OWNER, reply="Sorry"))
REFUND: Act = (
    "propose_remedy",
    ProposeRemedyInput(
        actor=OWNER, kind=RemedyKind.FEE_REFUND, description="Fee", amount=Decimal(9)
    ),
)
APPROVE_R1: Act = ("decide_remedy", ApproveRemedyInput(actor=SUPERVISOR, remedy_id="R1"))
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
        (("decide_remedy", ApproveRemedyInput(actor=SUPERVISOR, remedy_id="R9")), "no remedy 'R9'"),
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


# --- signals: the same actions for systems that only have Temporal ---------------------


async def signal(
    case: Case, name: str, payload: dict[str, Any], done: Callable[[CaseState], bool]
) -> CaseState:
    """Send an action as the Web UI's signal form would (a JSON object), wait for it."""
    await case.handle.signal(name, payload)
    return await case.eventually(done)


async def test_every_action_also_works_as_a_signal(desk: Desk) -> None:
    sent: set[str] = set()

    async def send(
        case: Case, name: str, payload: dict[str, Any], done: Callable[[CaseState], bool]
    ) -> CaseState:
        sent.add(name)
        return await signal(case, name, payload, done)

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
    assert sent == set(ACTIONS), f"not sent as signals: {set(ACTIONS) - sent}"

    for case in (inquiry, simple, complaint):
        state = await case.settled()
        assert "signal_rejected" not in [e.type for e in state.timeline]
    assert [r.remedy.amount for r in desk.log.remedies] == [Decimal("900.00")]
    assert [d.department for d in desk.log.dispatches] == ["cards"]
    assert [f.score for f in desk.log.feedback] == [5]


async def test_a_malformed_signal_is_recorded_and_the_case_carries_on(desk: Desk) -> None:
    case = await desk.open(CaseKind.INQUIRY)
    handle = case.handle
    bad: list[tuple[str, Any, str]] = [
        ("transfer", {"actor": AGENT, "department": "cards"}, "reason"),  # missing field
        ("record_feedback", {"actor": CUSTOMER, "score": "excellent"}, "score"),  # wrong type
        ("acknowledge", {"actor": AGENT, "mood": "grumpy"}, "mood"),  # unknown field
        ("frobnicate", {"actor": AGENT}, "no such action 'frobnicate'"),  # unknown signal
        ("close", {"actor": AGENT}, "cannot close while the case is received"),  # misfit
        ("acknowledge", "just a string", "dict"),  # not a JSON object
        ("transfer", {"actor": AGENT, "department": "astrology", "reason": "?"}, "unknown"),
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
    await handle.signal("acknowledge")  # no argument at all
    state = await case.eventually(rejections(len(bad) + 1))
    assert state.timeline[-1].detail == "send exactly one JSON object"
    assert state.stage is Stage.RECEIVED

    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    state = await case.do("acknowledge", AcknowledgeInput(actor=AGENT))
    assert state.stage is Stage.ACKNOWLEDGED
    await signal(
        case, "answer", {"actor": AGENT, "answer": "Ok"}, lambda s: s.stage is Stage.RESOLVED
    )
    await case.settled()
    assert desk.log.templates() == ["received", "acknowledged", "answered"]


# --- intake: update-with-start and signal-with-start -----------------------------------


async def test_update_with_start_sees_the_initialised_case(desk: Desk) -> None:
    input = intake(new_id(), CaseKind.COMPLAINT)
    start = WithStartWorkflowOperation(
        CaseWorkflow.run,
        input,
        id=case_workflow_id(input.case_id),
        task_queue=desk.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    receipt = await desk.env.client.execute_update_with_start_workflow(
        CaseWorkflow.confirm_intake, start_workflow_operation=start
    )
    assert receipt.first
    state = receipt.state
    assert state.case_id == input.case_id
    assert state.stage is Stage.RECEIVED
    assert state.policy_version is not None
    assert state.policy_version.startswith("plan-2026.1+")
    assert set(state.clocks) == {
        ClockName.FIRST_RESPONSE,
        ClockName.INVESTIGATION,
        ClockName.FINAL_REPLY,
    }
    assert state.clocks[ClockName.FINAL_REPLY].deadline == final_reply_deadline(state.opened_at)
    assert [e.type for e in state.timeline] == ["opened", "entered_in_complaint_register"]

    handle = await start.workflow_handle()
    desk.track(handle)
    again = await handle.execute_update(CaseWorkflow.confirm_intake)
    assert not again.first
    assert again.state.case_id == input.case_id
    assert again.state.timeline == state.timeline


async def test_a_signal_with_the_start_is_applied_after_intake(desk: Desk) -> None:
    input = intake(new_id(), CaseKind.INQUIRY)
    handle = await desk.env.client.start_workflow(
        CaseWorkflow.run,
        input,
        id=case_workflow_id(input.case_id),
        task_queue=desk.task_queue,
        start_signal="acknowledge",
        start_signal_args=[{"actor": AGENT}],
    )
    case = desk.track(handle)
    state = await case.eventually(lambda s: s.stage is Stage.ACKNOWLEDGED)
    assert [e.type for e in state.timeline] == ["opened", "clock_met", "acknowledged"]


# --- a policy file changes new cases, never running ones -------------------------------


async def test_a_running_case_keeps_the_policy_it_started_with(
    desk: Desk, policy_files: PolicyFiles
) -> None:
    path = policy_files.use(version='"ops-trial"', department_plan='"PT12H"      # trial')
    trial = await desk.open(CaseKind.INQUIRY)
    trial_state = await trial.state()
    assert trial_state.policy_version is not None
    assert trial_state.policy_version.startswith("ops-trial+")
    opened = trial_state.timeline[0]
    assert opened.data["policy_version"] == trial_state.policy_version

    # The file changes under the running case, then goes away altogether.
    path.write_text(path.read_text("utf-8").replace('"PT12H"', '"PT6H"'), "utf-8")
    changed = await desk.open(CaseKind.INQUIRY)
    policy_files.default()
    plain = await desk.open(CaseKind.INQUIRY)

    plans = {}
    for name, case in (("trial", trial), ("changed", changed), ("plain", plain)):
        state = await case.do(
            "transfer", TransferInput(actor=AGENT, department="cards", reason="Fees")
        )
        clock = state.clocks[ClockName.DEPARTMENT_PLAN]
        assert clock.deadline is not None
        plans[name] = (clock.deadline - clock.started_at, state.policy_version)
    assert plans["trial"] == (12 * HOUR, trial_state.policy_version)
    assert plans["changed"][0] == 6 * HOUR
    assert plans["changed"][1] != trial_state.policy_version
    assert str(plans["changed"][1]).startswith("ops-trial+")
    assert plans["plain"][0] == 24 * HOUR
    assert str(plans["plain"][1]).startswith("plan-2026.1+")
