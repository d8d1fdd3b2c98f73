"""The case worker's sandbox runner: the SDK's sandbox with its glue code compiled once.

It replaces one private method of the SDK, so these tests fail on an SDK whose method
has changed shape, and show that workflows still run in a sandbox through it: a
restricted call inside a workflow still fails its task, and a plain one completes
while the glue code is compiled once and reused.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox._runner import _Instance

from settings import get_settings
from tests.helpers.sandbox_workflows import Echo, ReadsTheClock
from worker import build_worker, workflow_runner
from workflows.sandbox import CompiledOnceSandboxedWorkflowRunner, compiled


def test_the_sdk_method_replaced_still_has_the_shape_copied() -> None:
    source = inspect.getsource(_Instance._run_code)
    assert "exec(code, self.globals_and_locals, self.globals_and_locals)" in source
    assert "_set_in_sandbox(True)" in source
    assert "self._current_thread_id = threading.get_ident()" in source


async def test_the_case_worker_runs_its_workflows_in_this_runner(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    worker = build_worker(time_skipping_env.client, get_settings(), task_queue="sandbox")
    assert isinstance(worker.config()["workflow_runner"], CompiledOnceSandboxedWorkflowRunner)


def test_a_production_worker_follows_case_worker_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off unless set: the tests check the workflows in the sandbox; a production
    worker saves its cost (``bench/README.md``)."""
    monkeypatch.delenv("CASE_WORKER_SANDBOX", raising=False)
    get_settings.cache_clear()
    assert get_settings().worker_sandbox is False
    monkeypatch.setenv("CASE_WORKER_SANDBOX", "true")
    get_settings.cache_clear()
    try:
        assert get_settings().worker_sandbox is True
    finally:
        get_settings.cache_clear()
    assert isinstance(workflow_runner(sandboxed=False), UnsandboxedWorkflowRunner)
    assert isinstance(workflow_runner(sandboxed=True), CompiledOnceSandboxedWorkflowRunner)


def sandboxed_worker(env: WorkflowEnvironment, queue: str, workflow: type) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[workflow],
        workflow_runner=CompiledOnceSandboxedWorkflowRunner(),
    )


async def test_workflows_run_and_the_glue_is_compiled_once(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    queue = f"sandbox-{uuid.uuid4()}"
    async with sandboxed_worker(time_skipping_env, queue, Echo):
        first = await time_skipping_env.client.execute_workflow(
            Echo.run, "a", id=f"echo-{uuid.uuid4()}", task_queue=queue
        )
        misses = compiled.cache_info().misses
        second = await time_skipping_env.client.execute_workflow(
            Echo.run, "b", id=f"echo-{uuid.uuid4()}", task_queue=queue
        )
    assert (first, second) == ("A", "B")
    # The second run compiled nothing new: every string it entered the sandbox with
    # was compiled for the first.
    assert compiled.cache_info().misses == misses
    assert compiled.cache_info().hits > 0


async def test_a_restricted_call_is_still_refused(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    queue = f"sandbox-{uuid.uuid4()}"
    async with sandboxed_worker(time_skipping_env, queue, ReadsTheClock):
        handle = await time_skipping_env.client.start_workflow(
            ReadsTheClock.run,
            id=f"clock-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=5),
        )
        # The sandbox fails the task (retried until the run times out), never the
        # clock read going through.
        with pytest.raises((WorkflowFailureError, RPCError)):
            await handle.result()
        history = await handle.fetch_history()
    failures = [
        event.workflow_task_failed_event_attributes.failure.message
        for event in history.events
        if event.HasField("workflow_task_failed_event_attributes")
    ]
    assert failures
    assert "Cannot access datetime.datetime.now" in failures[0]
