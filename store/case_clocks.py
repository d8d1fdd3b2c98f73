"""The register's clocks, one row per case and clock (the reports' source, R6.2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, String, column, delete, insert, table
from sqlmodel import Session

from contracts.case import ClockStatus, ClockView
from store.types import UTCDateTime

# The columns this projection writes, typed as in ``store.report_tables.CaseClockRow``
# (a light table: the projection's module does not load the report models).
CASE_CLOCKS = table(
    "case_clocks",
    column("case_id", String()),
    column("clock", String()),
    column("status", String()),
    column("started_at", UTCDateTime()),
    column("deadline", UTCDateTime()),
    column("breached_at", UTCDateTime()),
    column("met_at", UTCDateTime()),
    column("seconds_to_meet", Integer()),
    column("late_seconds", Integer()),
)


def clock_values(case_id: str, clock: ClockView) -> dict[str, Any]:
    seconds_to_meet = late = None
    if clock.met_at is not None:
        seconds_to_meet = int((clock.met_at - clock.started_at).total_seconds())
        if clock.status is ClockStatus.BREACHED and clock.deadline is not None:
            late = int((clock.met_at - clock.deadline).total_seconds())
    return {
        "case_id": case_id,
        "clock": clock.name.value,
        "status": clock.status.value,
        "started_at": clock.started_at,
        "deadline": clock.deadline,
        "breached_at": clock.breached_at,
        "met_at": clock.met_at,
        "seconds_to_meet": seconds_to_meet,
        "late_seconds": late,
    }


def replace_case_clocks(session: Session, *, case_id: str, clocks: Iterable[ClockView]) -> None:
    """Make the case's rows these clocks (a reopened case drops its survey)."""
    clocks_table = CASE_CLOCKS
    session.exec(delete(clocks_table).where(clocks_table.c.case_id == case_id))
    rows = [clock_values(case_id, clock) for clock in clocks]
    if rows:
        session.connection().execute(insert(clocks_table), rows)
