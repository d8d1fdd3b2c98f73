"""Build a report from the register and store it as a new revision (R6.2, R6.4)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from contracts.periods import ReportKind, parse_period
from contracts.reports import ReportRunInput, ReportStored
from policy.reports import policy_timezone, report_rules
from settings import get_settings
from store.db import session_scope
from store.improvement import monthly_analysis, quarterly_evaluation
from store.report_models import MonthlyReport, QuarterlyReport
from store.reports import store_revision


def build_and_store(input: ReportRunInput) -> ReportStored:
    settings = get_settings()
    period = parse_period(input.kind, input.period)
    tz = policy_timezone(settings.policy_file)
    rules = report_rules(settings.reports_file)
    as_of = datetime.now(UTC)
    # One transaction: the figures read and the revision written see the same register.
    with session_scope(settings.database_url, write=True) as session:
        report: MonthlyReport | QuarterlyReport = (
            monthly_analysis(session, period, tz=tz, rules=rules, as_of=as_of)
            if input.kind is ReportKind.MONTHLY
            else quarterly_evaluation(session, period, tz=tz, rules=rules, as_of=as_of)
        )
        data = report.model_dump(mode="json")
        data["requested_by"] = input.requested_by
        revision = store_revision(
            session, kind=input.kind, period=period.label, run_key=input.run_key, data=data
        )
    return ReportStored(kind=input.kind, period=period.label, revision=revision)


@activity.defn(name="build_monthly_report")
def build_monthly_report(input: ReportRunInput) -> ReportStored:
    """The monthly analysis (R6.2) of ``input.period``, stored as its next revision."""
    return build_and_store(input)


@activity.defn(name="build_quarterly_report")
def build_quarterly_report(input: ReportRunInput) -> ReportStored:
    """The quarterly evaluation (R6.4) of ``input.period``, stored as its next revision."""
    return build_and_store(input)
