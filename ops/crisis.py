"""Start the crisis monitor once, whoever calls and however often (R8)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from contracts.crisis import MonitorInput
from settings import Settings
from workflows.crisis_monitor import MONITOR_WORKFLOW_ID, CrisisMonitorWorkflow


async def ensure_crisis_monitor(
    client: Client,
    settings: Settings,
    *,
    workflow_id: str = MONITOR_WORKFLOW_ID,
    max_iterations: int | None = None,
) -> str:
    """Start the monitor unless it runs; returns its run ID (the running one's if it
    was already there). Safe to call from every launcher and worker start."""
    input = (
        MonitorInput() if max_iterations is None else MonitorInput(max_iterations=max_iterations)
    )
    handle = await client.start_workflow(
        CrisisMonitorWorkflow.run,
        input,
        id=workflow_id,
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A monitor that failed or was terminated is started afresh.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary="Crisis monitor: evaluates the crisis rules over the case register",
    )
    return handle.result_run_id or handle.run_id or ""
