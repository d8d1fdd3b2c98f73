"""The register's clocks, one row per case and clock (the reports' source, R6.2)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import Session

from store.idempotent import table_of
from store.report_tables import CaseClockRow
from workflows.messages import ClockStatus, ClockView


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
    table = table_of(CaseClockRow)
    session.exec(delete(table).where(table.c.case_id == case_id))
    rows = [clock_values(case_id, clock) for clock in clocks]
    if rows:
        session.exec(insert(table), params=rows)
