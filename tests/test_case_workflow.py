"""The case workflow on the time-skipping test server (and, where the real server's
behaviour matters, the dev server).

Side-effect activities are stand-ins (see ``tests/case_harness.py``); the deadline
policy and calendar activities are real.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contracts.actions import (
    AcknowledgeInput,
    ActionName,
    AnswerInput,
    CloseInput,
    ExtendClockInput,
    RecordFeedbackInput,
)
from contracts.case import CaseKind, ClockStatus, Stage
from contracts.policy import ClockName
from tests.case_harness import EffectLog, case_worker, execute_action, intake, open_case
from tests.db_fixtures import environment
from workflows.case import CaseWorkflow


def new_id() -> str:
    return "T" + uuid.uuid4().hex[:8].upper()


async def test_simple_inquiry_is_answered_at_once_and_resolves(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, log = time_skipping_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        handle = await open_case(env.client, task_queue, intake(new_id(), CaseKind.INQUIRY))
        receipt = await handle.execute_update(CaseWorkflow.confirm_intake)
        assert receipt.first
        first = receipt.state.clocks[ClockName.FIRST_RESPONSE]
        assert first.deadline is not None
        assert first.deadline - first.started_at == timedelta(minutes=5)

        state = await execute_action(
            handle,
            ActionName.ANSWER,
            AnswerInput(actor="agent-li", answer="Your card ships Monday."),
        )
        assert state.stage is Stage.RESOLVED
        assert state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.MET

        state = await execute_action(handle, ActionName.CLOSE, CloseInput(actor="agent-li"))
        assert state.stage is Stage.CLOSED
        assert state.clocks[ClockName.SURVEY].status is ClockStatus.RUNNING
        await execute_action(
            handle, ActionName.RECORD_FEEDBACK, RecordFeedbackInput(actor="customer", score=5)
        )
        final = await handle.result()
        assert final.stage is Stage.CLOSED
        assert final.clocks[ClockName.SURVEY].status is ClockStatus.MET
        assert log.templates() == ["received", "answered", "closed_survey"]
        assert len(log.feedback) == 1
        assert [e.type for e in final.timeline][:3] == ["opened", "clock_met", "answered"]


async def test_unanswered_first_response_warns_breaches_and_escalates(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, log = time_skipping_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        handle = await open_case(env.client, task_queue, intake(new_id(), CaseKind.INQUIRY))
        await handle.execute_update(CaseWorkflow.confirm_intake)
        await env.sleep(timedelta(minutes=4, seconds=30))
        state = await handle.query(CaseWorkflow.get_state)
        assert state.clocks[ClockName.FIRST_RESPONSE].warned
        assert state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.RUNNING
        await env.sleep(timedelta(hours=5))
        state = await handle.query(CaseWorkflow.get_state)
        clock = state.clocks[ClockName.FIRST_RESPONSE]
        assert clock.status is ClockStatus.BREACHED
        assert clock.escalation_level == 3
        assert state.breached
        assert ("warning", "first_response", "frontline_agents") in log.alerts()
        assert ("escalation", "first_response", "branch_manager") in log.alerts()
        # A breach never ends the case: it can still be acknowledged.
        state = await execute_action(
            handle, ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="agent-li")
        )
        assert state.stage is Stage.ACKNOWLEDGED
        assert not state.breached


async def test_action_that_does_not_fit_is_rejected_and_leaves_no_trace(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, log = time_skipping_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        handle = await open_case(env.client, task_queue, intake(new_id()))
        await handle.execute_update(CaseWorkflow.confirm_intake)
        before = await handle.query(CaseWorkflow.get_state)
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await execute_action(
                handle, ActionName.ANSWER, AnswerInput(actor="agent-li", answer="done")
            )
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == "ActionRejected"
        assert "final reply" in cause.message
        after = await handle.query(CaseWorkflow.get_state)
        assert after == before


async def test_rejected_update_writes_nothing_to_history(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    """On the real dev server a validator's rejection adds no event: the history a
    regulator reads holds only actions that were taken."""
    env, log = dev_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        handle = await open_case(env.client, task_queue, intake(new_id()))
        await handle.execute_update(CaseWorkflow.confirm_intake)
        # Let the intake's effects (notification, register projection) finish first.
        before: list[int] = []
        for _ in range(100):  # until the history stops growing: the case is idle
            seen = [int(e.event_type) for e in (await handle.fetch_history()).events]
            pending = await handle.query(CaseWorkflow.get_pending_effects)
            if seen == before and pending == 0 and log.customer and log.progress:
                break
            before = seen
            await asyncio.sleep(0.3)
        for action, input in (
            (ActionName.ANSWER, AnswerInput(actor="agent-li", answer="done")),
            (ActionName.CLOSE, CloseInput(actor="agent-li")),
        ):
            with pytest.raises(WorkflowUpdateFailedError):
                await execute_action(handle, action, input)
        after = [int(e.event_type) for e in (await handle.fetch_history()).events]
        assert after == before
        await handle.terminate("test over")


@pytest.mark.parametrize("by", [timedelta(0), timedelta(hours=-1), timedelta(days=91)])
def test_an_extension_is_positive_and_bounded(by: timedelta) -> None:
    """A negative or absurd extension never reaches the workflow, where a date past
    the calendar's end would fail its task."""
    with pytest.raises(ValidationError, match="by"):
        ExtendClockInput(actor="wang.fang", clock=ClockName.FINAL_REPLY, by=by, reason="r")


async def test_a_broken_policy_file_holds_intake_until_it_is_fixed(
    time_skipping_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    """Operations deploy a policy file with a typo: new cases wait, visibly, instead of
    failing; once the file is fixed they carry on with the fixed policy."""
    env, log = time_skipping_env, EffectLog()
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('version = "broken"\n[clocks]\nfirst_response = "5 minutes"\n')
    with environment(CASE_POLICY_FILE=str(policy_file)):
        async with case_worker(env.client, task_queue, log):
            handle = await open_case(env.client, task_queue, intake(new_id(), CaseKind.INQUIRY))
            await env.sleep(timedelta(minutes=3))
            description = await handle.describe()
            assert description.status is WorkflowExecutionStatus.RUNNING
            assert not log.customer  # nothing promised on a policy nobody can read

            fixed = resources.files("policy").joinpath("default.toml").read_text("utf-8")
            policy_file.write_text(fixed.replace('version = "plan-2026.1"', 'version = "fixed"'))
            await env.sleep(timedelta(minutes=10))  # past the retry and the 5-minute clock
            state = await handle.query(CaseWorkflow.get_state)
            assert state.policy_version is not None
            assert state.policy_version.startswith("fixed+")
            # The customer's wait counts from receipt, not from when intake got through.
            first = state.clocks[ClockName.FIRST_RESPONSE]
            assert first.started_at == state.opened_at
            assert first.status is ClockStatus.BREACHED
            await handle.terminate("test over")


async def test_a_signal_in_an_unknown_encoding_is_recorded_as_rejected(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, log = time_skipping_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        handle = await open_case(env.client, task_queue, intake(new_id(), CaseKind.INQUIRY))
        await handle.execute_update(CaseWorkflow.confirm_intake)
        odd = Payload(metadata={"encoding": b"text/plain"}, data=b"please add a note")
        await handle.signal("add_note", RawValue(odd))
        await handle.signal("add_note", {"actor": "wang.fang", "note": "called the branch"})
        for _ in range(100):
            state = await handle.query(CaseWorkflow.get_state)
            if any(e.type == "note_added" for e in state.timeline):
                break
            await asyncio.sleep(0.05)
        types = [e.type for e in state.timeline]
        assert types.count("signal_rejected") == 1
        assert "note_added" in types
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")


async def test_the_survey_is_answered_once(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    env, log = time_skipping_env, EffectLog()
    async with case_worker(env.client, task_queue, log):
        handle = await open_case(env.client, task_queue, intake(new_id(), CaseKind.INQUIRY))
        await handle.execute_update(CaseWorkflow.confirm_intake)
        early = RecordFeedbackInput(actor="customer", score=2)
        with pytest.raises(WorkflowUpdateFailedError, match="update failed"):
            await execute_action(handle, ActionName.RECORD_FEEDBACK, early)
        await execute_action(handle, ActionName.ANSWER, AnswerInput(actor="li", answer="ok"))
        await execute_action(handle, ActionName.CLOSE, CloseInput(actor="li"))
        await execute_action(
            handle, ActionName.RECORD_FEEDBACK, RecordFeedbackInput(actor="customer", score=4)
        )
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await execute_action(
                handle, ActionName.RECORD_FEEDBACK, RecordFeedbackInput(actor="customer", score=1)
            )
        assert isinstance(again.value.cause, ApplicationError)
        assert "answered once" in again.value.cause.message
        await handle.terminate("test over")
