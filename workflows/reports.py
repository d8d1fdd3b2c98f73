"""The monthly analysis and the quarterly evaluation as workflows (R6.2, R6.4).

A Schedule starts them on the 1st of each month (quarter); a supervisor can start one
for any period. The workflow only decides which period: the scheduled start time
(the ``TemporalScheduledStartTime`` search attribute) in the policy's time zone
names the period before it. The activity reads the register and stores the report.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.periods import (
        Period,
        PeriodError,
        ReportKind,
        local_date,
        parse_period,
        period_before,
    )
    from contracts.reports import (
        BUILD_MONTHLY_REPORT,
        BUILD_QUARTERLY_REPORT,
        ReportRunInput,
        ReportStored,
        ReportWorkflowInput,
    )

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
BUILD_TIMEOUT = timedelta(minutes=15)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=5)


def report_period(kind: ReportKind, input: ReportWorkflowInput) -> Period:
    """The period asked for, or the one before the scheduled (or current) time."""
    if input.period is not None:
        try:
            return parse_period(kind, input.period)
        except PeriodError as err:
            raise ApplicationError(str(err), type="PeriodError", non_retryable=True) from err
    if input.timezone is None:
        raise ApplicationError(
            "a run without a period needs the policy's timezone", non_retryable=True
        )
    moment = workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
    return period_before(kind, local_date(moment, input.timezone))


def _run_input(kind: ReportKind, period: Period, input: ReportWorkflowInput) -> ReportRunInput:
    info = workflow.info()
    return ReportRunInput(
        kind=kind,
        period=period.label,
        run_key=f"{info.workflow_id}/{info.run_id}",
        requested_by=input.requested_by,
    )


@workflow.defn(name="MonthlyReport")
class MonthlyReportWorkflow:
    @workflow.run
    async def run(self, input: ReportWorkflowInput) -> ReportStored:
        period = report_period(ReportKind.MONTHLY, input)
        stored: ReportStored = await workflow.execute_activity(
            BUILD_MONTHLY_REPORT.name,
            _run_input(ReportKind.MONTHLY, period, input),
            result_type=BUILD_MONTHLY_REPORT.result,
            start_to_close_timeout=BUILD_TIMEOUT,
            retry_policy=RETRY,
        )
        return stored


@workflow.defn(name="QuarterlyReport")
class QuarterlyReportWorkflow:
    @workflow.run
    async def run(self, input: ReportWorkflowInput) -> ReportStored:
        period = report_period(ReportKind.QUARTERLY, input)
        stored: ReportStored = await workflow.execute_activity(
            BUILD_QUARTERLY_REPORT.name,
            _run_input(ReportKind.QUARTERLY, period, input),
            result_type=BUILD_QUARTERLY_REPORT.result,
            start_to_close_timeout=BUILD_TIMEOUT,
            retry_policy=RETRY,
        )
        return stored


def report_workflow_id(kind: ReportKind, period: str) -> str:
    """One workflow ID per period: two requests at once share one run."""
    return f"report-{kind.value}-{period}"
