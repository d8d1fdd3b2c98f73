"""A case never wedges, never loses a step, never grows without bound.

On the time-skipping test server, or the dev server where a test says so. Side-effect
activities are the harness's stand-ins (``tests.case_harness``); where a test needs an
activity to fail, a stand-in under the same name says so.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from activities import deadlines
from contracts.actions import (
    AcknowledgeInput,
    ActionName,
    AddNoteInput,
    AssignOwnerInput,
    CloseInput,
    RecordInvestigationInput,
    ReopenInput,
    SendFinalReplyInput,
)
from contracts.activities import ComputeDeadlineInput, DeadlineResult
from contracts.case import CaseOpenInput, CaseState, Stage
from contracts.policy import ClockName
from tests.case_harness import EffectLog, execute_action, intake, open_case, run_lengths
from tests.db_fixtures import environment
from tests.record_histories import HISTORIES
from workflows.case import CaseWorkflow
from workflows.effects import Effect

BUDGET = 300


@pytest.fixture
def small_budget(tmp_path: Path) -> Iterator[Path]:
    """The built-in policy with a small history budget, so a case renews soon."""
    text = resources.files("policy").joinpath("default.toml").read_text(encoding="utf-8")
    path = tmp_path / "policy.toml"
    path.write_text(text.replace("history_budget = 10000", f"history_budget = {BUDGET}"))
    with environment(CASE_POLICY_FILE=str(path)):
        yield path


def worker(client: Client, queue: str, activities: list[Any], **kwargs: Any) -> Worker:
    return Worker(
        client,
        task_queue=queue,
        workflows=[CaseWorkflow],
        activities=activities,
        activity_executor=ThreadPoolExecutor(max_workers=4),
        **kwargs,
    )


async def state_of(handle: WorkflowHandle[Any, Any]) -> CaseState:
    state: CaseState = await handle.query("get_state", result_type=CaseState)
    return state


async def until(handle: WorkflowHandle[Any, Any], check: Any) -> CaseState:
    async with asyncio.timeout(60):
        while True:
            state = await state_of(handle)
            if check(state):
                return state
            await asyncio.sleep(0.05)


async def test_a_long_case_continues_as_new_carrying_state_and_answers(
    dev_env: WorkflowEnvironment, task_queue: str, small_budget: Path
) -> None:
    """On the dev server: the time-skipping test server mishandles signals that
    arrive while a run continues as new (they stay with the closed run)."""
    client = dev_env.client
    log = EffectLog()
    async with worker(client, task_queue, log.activities()):
        started = await open_case(client, task_queue, intake(f"C{uuid.uuid4().hex[:8]}"))
        # Not bound to the first run: signals, updates and queries follow the case into
        # the runs it continues as.
        handle = client.get_workflow_handle(started.id)
        await started.execute_update(CaseWorkflow.confirm_intake)
        ack = AcknowledgeInput(actor="li.na", note="called")
        first = await execute_action(handle, ActionName.ACKNOWLEDGE, ack, id="acknowledge:li.na:k1")
        # Notes in batches, each applied before the next is sent: a sender faster than
        # the worker adds signals to the history while the case is renewing itself,
        # which no workflow can refuse (the budget's margin is for them).
        before = (await state_of(handle)).last_seq
        for start in range(0, 400, 20):
            await asyncio.gather(
                *(
                    handle.signal("add_note", AddNoteInput(actor="li.na", note=f"call {n}"))
                    for n in range(start, start + 20)
                )
            )
            await until(handle, lambda s, n=start: s.last_seq >= before + n + 20)
        state = await until(handle, lambda s: s.timeline_offset > 0)
        assert state.timeline_offset > 0, "the case continued as new"
        # Every event reached the register, across the runs (a local activity may run
        # again when its workflow task is retried: the register stores an event once).
        projected = {e.seq for p in log.progress for e in p.events}
        assert projected == set(range(1, state.last_seq + 1))
        # The same keyed request after the new run began: the first answer.
        again = await execute_action(handle, ActionName.ACKNOWLEDGE, ack, id="acknowledge:li.na:k1")
        assert again == first
        assert [e.type for e in state.timeline].count("acknowledged") == 0
        lengths = await run_lengths(client, handle.id)
        assert len(lengths) >= 2
        assert max(lengths) <= BUDGET, lengths
        # The run that continued as new replays the same way (the patched path).
        latest = await handle.fetch_history()
        opening = latest.events[0].workflow_execution_started_event_attributes
        first_run = await client.get_workflow_handle(
            handle.id, run_id=opening.first_execution_run_id
        ).fetch_history()
        replayer = Replayer(workflows=[CaseWorkflow], data_converter=client.data_converter)
        replayed = await replayer.replay_workflow(first_run)
        assert replayed.replay_failure is None
        if os.environ.get("CASE_RECORD_HISTORY"):
            (HISTORIES / "continued_as_new.first_run.json").write_text(
                first_run.to_json() + "\n", encoding="utf-8"
            )
        await handle.terminate("test over")


def counting_fails_after_intake() -> Any:
    """A stand-in for the working-day count after intake: every call fails for good,
    as a broken calendar would. Intake counts its clocks in ``resolve_case_intake``
    (the real one), so the case opens as usual."""

    @activity.defn(name="compute_deadline")
    def compute_deadline(input: ComputeDeadlineInput) -> DeadlineResult:
        raise ApplicationError("calendar unavailable", type="InvalidCalendar")

    return compute_deadline


async def test_a_failing_count_inside_a_signalled_extension_is_recorded(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    activities = [a for a in EffectLog().activities() if a is not deadlines.compute_deadline]
    activities.append(counting_fails_after_intake())
    async with worker(client, task_queue, activities):
        handle = await open_case(client, task_queue, intake(f"C{uuid.uuid4().hex[:8]}"))
        extend = {"actor": "wang.fang", "clock": "final_reply", "working_days": 2, "reason": "x"}
        await handle.signal("extend_clock", extend)
        state = await until(handle, lambda s: s.timeline[-1].type == "signal_rejected")
        rejected = state.timeline[-1]
        assert rejected.data["signal"] == "extend_clock"
        assert "calendar unavailable" in (rejected.detail or "")
        assert state.clocks[ClockName.FINAL_REPLY].extensions == 0
        # The case runs on: the next action is applied as usual.
        state = await execute_action(handle, ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li"))
        assert state.stage is Stage.ACKNOWLEDGED
        await handle.terminate("test over")


async def test_a_failing_count_inside_a_reopen_is_refused_and_the_case_runs_on(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Reopening is not taken by signal (it commits the bank to the customer again):
    a signalled reopen is recorded as rejected; the API's reopen whose working-day count
    fails is refused cleanly; either way the case runs on."""
    client = time_skipping_env.client
    activities = [a for a in EffectLog().activities() if a is not deadlines.compute_deadline]
    activities.append(counting_fails_after_intake())
    async with worker(client, task_queue, activities):
        handle = await open_case(client, task_queue, intake(f"C{uuid.uuid4().hex[:8]}"))
        for name, input in (
            (ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li")),
            (ActionName.ASSIGN_OWNER, AssignOwnerInput(actor="li", owner="zhang")),
            (
                ActionName.RECORD_INVESTIGATION,
                RecordInvestigationInput(actor="zhang", findings="x"),
            ),
            (ActionName.SEND_FINAL_REPLY, SendFinalReplyInput(actor="zhang", reply="done")),
            (ActionName.CLOSE, CloseInput(actor="zhang")),
        ):
            await execute_action(handle, name, input)
        await handle.signal("reopen", {"actor": "li", "reason": "not fixed"})
        state = await until(handle, lambda s: s.timeline[-1].type == "signal_rejected")
        assert state.timeline[-1].data["signal"] == "reopen"
        assert "not taken by signal" in (state.timeline[-1].detail or "")
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await execute_action(handle, ActionName.REOPEN, ReopenInput(actor="li", reason="x"))
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError)
        # A local activity's own ApplicationError reaches the workflow as it is: the
        # update fails with it, cleanly.
        assert cause.type == "InvalidCalendar"
        assert "calendar unavailable" in cause.message
        state = await state_of(handle)
        assert state.stage is Stage.CLOSED, "nothing of the reopen was applied"
        await handle.signal("add_note", {"actor": "li", "note": "called the customer"})
        await until(handle, lambda s: s.timeline[-1].type == "note_added")
        await handle.terminate("test over")


@workflow.defn(name="CaseWorkflow")
class CaseWorkflowWithABrokenLine(CaseWorkflow):
    """The case workflow with a bug in its delivery line, as a careless edit would
    make one: building a customer notification raises."""

    @workflow.run
    async def run(self, input: CaseOpenInput) -> CaseState:
        return await super().run(input)

    async def _carry_out(self, effect: Effect) -> None:
        raise ValueError("a bug while building the activity input")


async def test_a_background_line_that_fails_fails_the_task_visibly(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    log = EffectLog()
    broken = Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflowWithABrokenLine],
        activities=log.activities(),
        activity_executor=ThreadPoolExecutor(max_workers=4),
        # The sandbox would re-import this test module for the subclass.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with broken:
        handle = await open_case(client, task_queue, intake(f"C{uuid.uuid4().hex[:8]}"))
        async with asyncio.timeout(30):
            while True:
                history = await handle.fetch_history()
                failed = [
                    e.workflow_task_failed_event_attributes.failure.message
                    for e in history.events
                    if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                ]
                if failed:
                    break
                await asyncio.sleep(0.1)
        assert "deliveries line failed: ValueError" in failed[0]
        description = await handle.describe()
        assert description.status is not None
        await handle.terminate("test over")
