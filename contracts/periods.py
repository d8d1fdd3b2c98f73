"""Report periods: a month ``yyyy-mm`` or a quarter ``yyyy-Qn``, as local dates.

Pure functions on dates, so the report workflows can use them deterministically; the
register turns the dates into UTC instants in the policy's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

# Years 1900-2999: a register's periods, and far from the calendar's edges (a month of
# year 0 or 9999 has no month before or after it).
MONTH_PATTERN = re.compile(r"^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2])$")
QUARTER_PATTERN = re.compile(r"^(19[0-9]{2}|2[0-9]{3})-Q([1-4])$")


class ReportKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class PeriodError(ValueError):
    """A malformed period label."""


@dataclass(frozen=True, order=True)
class Period:
    """``[start, end)`` in local dates: the 1st of the month (quarter) to the 1st of
    the next one."""

    kind: ReportKind
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind is ReportKind.MONTHLY:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"

    def previous(self) -> Period:
        months = 1 if self.kind is ReportKind.MONTHLY else 3
        return Period(self.kind, add_months(self.start, -months), self.start)


def add_months(day: date, months: int) -> date:
    """The 1st of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def month(year: int, number: int) -> Period:
    start = date(year, number, 1)
    return Period(ReportKind.MONTHLY, start, add_months(start, 1))


def quarter(year: int, number: int) -> Period:
    start = date(year, (number - 1) * 3 + 1, 1)
    return Period(ReportKind.QUARTERLY, start, add_months(start, 3))


def parse_period(kind: ReportKind, label: str) -> Period:
    """``2026-11`` (monthly) or ``2026-Q4`` (quarterly); :class:`PeriodError` otherwise."""
    if kind is ReportKind.MONTHLY:
        match = MONTH_PATTERN.match(label)
        if match is None:
            raise PeriodError(f"period {label!r} is not a month: use yyyy-mm, e.g. 2026-11")
        return month(int(match[1]), int(match[2]))
    match = QUARTER_PATTERN.match(label)
    if match is None:
        raise PeriodError(f"period {label!r} is not a quarter: use yyyy-Qn, e.g. 2026-Q4")
    return quarter(int(match[1]), int(match[2]))


def containing(kind: ReportKind, day: date) -> Period:
    """The month or quarter ``day`` falls in."""
    if kind is ReportKind.MONTHLY:
        return month(day.year, day.month)
    return quarter(day.year, (day.month - 1) // 3 + 1)


def period_before(kind: ReportKind, day: date) -> Period:
    """The last complete month or quarter before ``day``'s (what a run on the 1st
    reports on)."""
    return containing(kind, day).previous()


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar day ``moment`` falls on in ``timezone`` (the zone rules come from
    the pinned tzdata package, so a replay gets the same day)."""
    return moment.astimezone(ZoneInfo(timezone)).date()
