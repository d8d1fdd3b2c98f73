"""The case workflow's paths on the time-skipping test server.

Side-effect activities are stand-ins (see ``tests/case_harness.py``); the deadline
policy and calendar activities are real.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from policy.model import ClockName
from tests.case_harness import EffectLog, case_worker, intake, open_case
from workflows.case import CaseWorkflow
from workflows.messages import (
    AcknowledgeInput,
    AnswerInput,
    CaseKind,
    ClockStatus,
    CloseInput,
    FeedbackInput,
    Stage,
)


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

        state = await handle.execute_update(
            CaseWorkflow.answer, AnswerInput(actor="agent-li", answer="Your card ships Monday.")
        )
        assert state.stage is Stage.RESOLVED
        assert state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.MET

        state = await handle.execute_update(CaseWorkflow.close, CloseInput(actor="agent-li"))
        assert state.stage is Stage.CLOSED
        assert state.clocks[ClockName.SURVEY].status is ClockStatus.RUNNING
        await handle.execute_update(
            CaseWorkflow.record_feedback, FeedbackInput(actor="customer", score=5)
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
        state = await handle.execute_update(
            CaseWorkflow.acknowledge, AcknowledgeInput(actor="agent-li")
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
            await handle.execute_update(
                CaseWorkflow.answer, AnswerInput(actor="agent-li", answer="done")
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
        for _ in range(100):
            if log.progress:
                break
            await asyncio.sleep(0.05)
        before = [e.event_type for e in (await handle.fetch_history()).events]
        for action, input in (
            (CaseWorkflow.answer, AnswerInput(actor="agent-li", answer="done")),
            (CaseWorkflow.close, CloseInput(actor="agent-li")),
        ):
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(action, input)  # type: ignore[arg-type]
        after = [e.event_type for e in (await handle.fetch_history()).events]
        assert after == before
        await handle.terminate("test over")
