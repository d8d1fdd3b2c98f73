"""The case worker: runs every case workflow and every activity.

One process; run more of them to scale out (Python workflow code is CPU-bound, so
throughput grows with processes, not with slots).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities import (
    deadlines,
    departments,
    feedback,
    notifications,
    register,
    remedies,
    reports,
)
from codec.converter import connect_client
from settings import Settings, get_settings
from store.migrate import upgrade_to_head
from workflows.case import CaseWorkflow
from workflows.reports import MonthlyReportWorkflow, QuarterlyReportWorkflow

ACTIVITIES: Sequence[Callable[..., Any]] = (
    deadlines.resolve_case_policy,
    deadlines.compute_deadline,
    register.record_case_progress,
    departments.dispatch_to_department,
    notifications.notify_customer,
    notifications.notify_staff,
    remedies.record_remedy,
    feedback.record_feedback,
    reports.build_monthly_report,
    reports.build_quarterly_report,
)


def build_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    activities: Sequence[Callable[..., Any]] = ACTIVITIES,
    max_concurrent_activities: int = 32,
) -> Worker:
    """A worker for the case task queue; tests pass their own queue or stand-ins."""
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[CaseWorkflow, MonthlyReportWorkflow, QuarterlyReportWorkflow],
        activities=list(activities),
        # The activities are synchronous (SQL, SMTP, HTTP with timeouts): they run in
        # this pool, never on the event loop that drives workflow tasks.
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        # Keeping open cases cached avoids replaying their history at every deadline.
        max_cached_workflows=10_000,
    )


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    upgrade_to_head(settings.database_url)
    client = await connect_client(settings)
    worker = build_worker(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        logging.info("Case worker polling task queue %r", settings.task_queue)
        await stop.wait()
        logging.info("Shutting down: finishing in-flight tasks")
    # Leaving the context manager shuts the worker down gracefully.


if __name__ == "__main__":
    asyncio.run(main())
