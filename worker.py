"""The case worker: runs every case workflow and every activity.

One process; run more of them to scale out (Python workflow code is CPU-bound, so
throughput grows with processes, not with slots).
"""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner

from activities import (
    deadlines,
    departments,
    feedback,
    notifications,
    register,
    remedies,
    reports,
)
from activities.crisis import CRISIS_ACTIVITIES
from activities.improvement import IMPROVEMENT_ACTIVITIES
from codec.converter import connect_client
from preflight.check import ConfigurationError, check_configuration
from settings import Settings, get_settings
from store.migrate import upgrade_to_head
from workflows.case import CaseWorkflow
from workflows.crisis_incident import CrisisIncidentWorkflow
from workflows.crisis_monitor import CrisisMonitorWorkflow
from workflows.improvement_action import ImprovementActionWorkflow
from workflows.reports import MonthlyReportWorkflow, QuarterlyReportWorkflow
from workflows.sandbox import CompiledOnceSandboxedWorkflowRunner

ACTIVITIES: Sequence[Callable[..., Any]] = (
    deadlines.resolve_case_policy,
    deadlines.compute_deadline,
    deadlines.resolve_case_intake,
    register.record_case_progress,
    departments.dispatch_to_department,
    notifications.notify_customer,
    notifications.notify_staff,
    remedies.record_remedy,
    feedback.record_feedback,
    *CRISIS_ACTIVITIES,
    reports.build_monthly_report,
    reports.build_quarterly_report,
    *IMPROVEMENT_ACTIVITIES,
)


@dataclass(frozen=True)
class WorkerSizing:
    """The worker's slots and the thread pool that serves them, sized together.

    Regular and local activities run in the same pool (the synchronous ones: SQL,
    SMTP, HTTP with timeouts), so the pool has a thread for every slot of both: a
    register write (a local activity) never queues behind slow deliveries, and the
    SDK never hands the pool more work than it has threads for. Local activities are
    short SQL writes, one per case step in flight; 64 covers the bench's 50
    concurrent cases (their writes are committed together, ``store.group_commit``).
    A cached case costs the worker about 180 KB, 270 KB in the sandbox
    (``bench/scale.py``): 2,500 kept a worker at about 680 MB with 50,000 cases open;
    the others are replayed from their history at their next event.
    """

    activities: int = 32
    local_activities: int = 64
    cached_workflows: int = 2_500

    @property
    def threads(self) -> int:
        return self.activities + self.local_activities


SIZING = WorkerSizing()


def workflow_runner(*, sandboxed: bool) -> WorkflowRunner:
    """The SDK's sandbox (glue compiled once), or the workflows run as plain code.

    The sandbox re-imports each workflow's modules for every case it loads and checks
    every activation against non-deterministic calls (the wall clock, I/O, threads):
    a guard for writing workflow code, paid on every task. Every workflow test runs
    the code in it (``build_worker``'s default), and ``tests/test_architecture.py``
    keeps I/O modules out of ``workflows/``; so a production worker may run without
    it (``CASE_WORKER_SANDBOX``, off by default): measured in ``bench/README.md``, a
    sixth of the worker's CPU per case and most of a cached case's memory.
    """
    return CompiledOnceSandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()


def build_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    activities: Sequence[Callable[..., Any]] = ACTIVITIES,
    sizing: WorkerSizing = SIZING,
    sandboxed: bool = True,
) -> Worker:
    """A worker for the case task queue; tests pass their own queue or stand-ins.

    ``sandboxed`` unless the caller says otherwise: the tests check every workflow
    inside the sandbox; ``main`` follows ``CASE_WORKER_SANDBOX``.
    """
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[
            CaseWorkflow,
            CrisisMonitorWorkflow,
            CrisisIncidentWorkflow,
            MonthlyReportWorkflow,
            QuarterlyReportWorkflow,
            ImprovementActionWorkflow,
        ],
        activities=list(activities),
        workflow_runner=workflow_runner(sandboxed=sandboxed),
        # Synchronous activities run in this pool, never on the event loop that drives
        # workflow tasks; one thread per slot of both kinds (``WorkerSizing``).
        activity_executor=ThreadPoolExecutor(max_workers=sizing.threads),
        max_concurrent_activities=sizing.activities,
        max_concurrent_local_activities=sizing.local_activities,
        identity=settings.worker_identity,
        max_cached_workflows=sizing.cached_workflows,
    )


def sizing_from(settings: Settings) -> WorkerSizing:
    """The default sizing with the cache size ``CASE_WORKER_CACHED_WORKFLOWS`` sets."""
    if settings.worker_cached_workflows is None:
        return SIZING
    return replace(SIZING, cached_workflows=settings.worker_cached_workflows)


def compile_workflow_modules() -> None:
    """Write the workflow modules' bytecode before taking work.

    The sandbox imports a workflow's module afresh for every case it loads (only the
    modules passed through are shared); where bytecode writing is off
    (``PYTHONDONTWRITEBYTECODE``), each of those imports compiled the source again.
    A source tree that cannot be written is left as it is (quietly: it only costs time).
    """
    compileall.compile_dir(Path(__file__).parent / "workflows", quiet=2)


# Exit status when the configuration is refused (a supervisor should not restart it).
EXIT_CONFIG = 2


def metrics_runtime(settings: Settings) -> Runtime | None:
    """An SDK runtime serving Temporal's worker metrics in Prometheus text format at
    ``http://CASE_WORKER_METRICS_HOST:CASE_WORKER_METRICS_PORT/metrics``; ``None``
    (the SDK's default runtime, no endpoint) when no port is set."""
    if settings.worker_metrics_port is None:
        return None
    address = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def checked_settings() -> Settings:
    """The settings, with every file and key they name usable; otherwise the process
    exits with ``EXIT_CONFIG``, naming the variable, the file and the key, before it
    takes any work (a broken file is not left to surface at the first case)."""
    try:
        settings = get_settings()
        check_configuration(settings)
    except ConfigurationError as err:
        logging.error("Case worker %s", err)
        sys.exit(EXIT_CONFIG)
    except ValidationError as err:
        logging.error("Case worker refusing to start: invalid settings: %s", err)
        sys.exit(EXIT_CONFIG)
    return settings


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = checked_settings()
    upgrade_to_head(settings.database_url)
    compile_workflow_modules()
    try:
        runtime = metrics_runtime(settings)
    except ValueError as err:  # the SDK's exporter could not bind (port in use)
        logging.error("Case worker refusing to start: CASE_WORKER_METRICS_PORT: %s", err)
        sys.exit(EXIT_CONFIG)
    client = await connect_client(settings, runtime=runtime)
    sizing = sizing_from(settings)
    worker = build_worker(client, settings, sizing=sizing, sandboxed=settings.worker_sandbox)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        logging.info(
            "Case worker polling task queue %r, caching up to %d open cases, sandbox %s",
            settings.task_queue,
            sizing.cached_workflows,
            "on" if settings.worker_sandbox else "off",
        )
        if settings.worker_metrics_port is not None:
            logging.info(
                "SDK metrics at http://%s:%d/metrics",
                settings.worker_metrics_host,
                settings.worker_metrics_port,
            )
        await stop.wait()
        logging.info("Shutting down: finishing in-flight tasks")
    # Leaving the context manager shuts the worker down gracefully.


if __name__ == "__main__":
    asyncio.run(main())
