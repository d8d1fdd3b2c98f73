"""The report schedules (R6.2, R6.4): Temporal Schedules, created or updated
idempotently.

The monthly analysis runs on the 1st of each month and the quarterly evaluation on
the 1st of January, April, July and October, at ``run_hour`` (policy/reports.toml)
in the deadline policy's time zone; each reports on the period that just ended.
``python -m ops.schedules`` sets them up on an existing cluster (the connection from
``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_PROFILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from contracts.periods import ReportKind
from contracts.reports import ReportWorkflowInput
from policy.reports import policy_timezone, report_rules
from settings import Settings
from workflows.reports import MonthlyReportWorkflow, QuarterlyReportWorkflow

SCHEDULE_IDS: dict[ReportKind, str] = {
    ReportKind.MONTHLY: "case-report-monthly",
    ReportKind.QUARTERLY: "case-report-quarterly",
}
QUARTER_MONTHS = ScheduleRange(1, 10, 3)  # January, April, July, October
# A run missed while the cluster was down is still made within this window.
CATCHUP_WINDOW = timedelta(days=7)


def report_schedule(kind: ReportKind, *, task_queue: str, hour: int, timezone: str) -> Schedule:
    """The schedule of one report: the 1st of each month (or quarter) at ``hour``."""
    calendar = ScheduleCalendarSpec(
        second=(ScheduleRange(0),),
        minute=(ScheduleRange(0),),
        hour=(ScheduleRange(hour),),
        day_of_month=(ScheduleRange(1),),
        month=(QUARTER_MONTHS,) if kind is ReportKind.QUARTERLY else (ScheduleRange(1, 12),),
        comment=f"{kind.value} report",
    )
    workflow = MonthlyReportWorkflow if kind is ReportKind.MONTHLY else QuarterlyReportWorkflow
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow.run,
            ReportWorkflowInput(timezone=timezone, requested_by="schedule"),
            # The server appends each run's scheduled time to this ID.
            id=f"report-{kind.value}-scheduled",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(calendars=[calendar], time_zone_name=timezone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
    )


async def ensure_schedules(
    client: Client, settings: Settings, *, id_prefix: str = ""
) -> dict[ReportKind, str]:
    """Create both schedules, or bring existing ones up to date; answers their IDs.

    Safe to call at every start: an existing schedule is updated in place (its
    history and any paused state kept), never duplicated.
    """
    hour = report_rules(settings.reports_file).run_hour
    timezone = policy_timezone(settings.policy_file)
    ids: dict[ReportKind, str] = {}
    for kind, base_id in SCHEDULE_IDS.items():
        schedule_id = f"{id_prefix}{base_id}"
        schedule = report_schedule(
            kind, task_queue=settings.task_queue, hour=hour, timezone=timezone
        )
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def update(current: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                # Keep the operator's pause; take everything else from the code.
                new.state = current.description.schedule.state
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id).update(update)
        ids[kind] = schedule_id
    return ids


async def _main(argv: Sequence[str] | None = None) -> int:
    from codec.converter import connect_client
    from settings import get_settings

    parser = argparse.ArgumentParser(
        prog="python -m ops.schedules",
        description="Create or update the monthly and quarterly report schedules on an "
        "existing Temporal cluster. The connection comes from TEMPORAL_ADDRESS, "
        "TEMPORAL_NAMESPACE, TEMPORAL_PROFILE and Temporal's config file.",
    )
    parser.parse_args(argv)
    settings = get_settings()
    client = await connect_client(settings)
    for kind, schedule_id in (await ensure_schedules(client, settings)).items():
        description = await client.get_schedule_handle(schedule_id).describe()
        upcoming = ", ".join(t.isoformat() for t in description.info.next_action_times[:3])
        print(f"{kind.value}: schedule {schedule_id}, next runs {upcoming}")
    return 0


if __name__ == "__main__":
    exit_code = asyncio.run(_main())
    sys.stdout.flush()
    sys.stderr.flush()
    # As in stack.search_attributes: skip the client's teardown in a short-lived process.
    os._exit(exit_code)
