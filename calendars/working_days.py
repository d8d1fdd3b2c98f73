"""Working-day arithmetic on the ``holidays`` package's calendars.

Every holiday, weekend and make-up working day (China's 调休 Saturdays and Sundays)
comes from ``holidays`` itself: this module only picks the calendar, the years and the
time zone. It is called from activities, never from workflow code (docs/architecture.md, rule 1).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib.metadata import version
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays.holiday_base import HolidayBase

from calendars.overlay import NO_OVERLAY, CalendarOverlay, apply_overlay

__all__ = [
    "CalendarError",
    "UnknownCalendarError",
    "UnknownTimezoneError",
    "check_calendar",
    "holiday_calendar",
    "is_working_day",
    "nth_working_day",
    "working_day_deadline",
    "working_days_between",
    "zone",
]

_HOLIDAYS_VERSION = version("holidays")


class CalendarError(ValueError):
    """A calendar, subdivision or time zone the engine cannot count days in."""


class UnknownCalendarError(CalendarError):
    """The calendar or subdivision is not one ``holidays`` knows."""


class UnknownTimezoneError(CalendarError):
    """The time zone is not in the IANA database installed with ``tzdata``."""


def zone(timezone: str) -> ZoneInfo:
    """The IANA time zone, or an error naming it (a typo must not fall back to UTC)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise UnknownTimezoneError(f"unknown time zone: {timezone!r}") from err


def check_calendar(calendar: str, subdivision: str | None = None) -> None:
    """Fail now, with the reason, if ``calendar``/``subdivision`` cannot be loaded."""
    holiday_calendar(calendar, subdivision, date.today().year, date.today().year)


@lru_cache(maxsize=128)
def holiday_calendar(
    calendar: str, subdivision: str | None, first_year: int, last_year: int
) -> HolidayBase:
    """The holidays of ``calendar`` for the years ``first_year..last_year``, cached.

    Loaded with ``expand=False`` so a cached object is never mutated when another
    thread asks about a date outside its years; callers make sure the years cover
    every date they ask about.
    """
    years = range(first_year, last_year + 1)
    try:
        if calendar in holidays.list_supported_countries():
            return holidays.country_holidays(
                calendar, subdiv=subdivision, years=years, expand=False
            )
        if calendar in holidays.list_supported_financial():
            return holidays.financial_holidays(
                calendar, subdiv=subdivision, years=years, expand=False
            )
    except NotImplementedError as err:
        raise UnknownCalendarError(
            f"unknown subdivision of calendar {calendar!r}: {subdivision!r}"
        ) from err
    raise UnknownCalendarError(
        f"unknown calendar: {calendar!r} is neither a country nor a financial market code "
        f"known to holidays {_HOLIDAYS_VERSION} (codes are upper case, e.g. 'CN')"
    )


@lru_cache(maxsize=64)
def _overlaid(
    calendar: str,
    subdivision: str | None,
    first_year: int,
    last_year: int,
    overlay: CalendarOverlay,
) -> HolidayBase:
    """The package's calendar with the bank's overlay applied on top (a copy)."""
    base = holiday_calendar(calendar, subdivision, first_year, last_year)
    return apply_overlay(base, calendar, overlay)


def is_working_day(
    day: date,
    calendar: str,
    subdivision: str | None = None,
    overlay: CalendarOverlay = NO_OVERLAY,
) -> bool:
    """Whether ``day`` is a working day: not a weekend or holiday, or a make-up day."""
    return _overlaid(calendar, subdivision, day.year, day.year, overlay).is_working_day(day)


def nth_working_day(
    day: date,
    n: int,
    calendar: str,
    subdivision: str | None = None,
    overlay: CalendarOverlay = NO_OVERLAY,
) -> date:
    """The ``n``-th working day after ``day``; ``day`` itself never counts."""
    if n < 1:
        raise ValueError(f"working days must be at least 1, got {n}")
    # n working days take at least n calendar days: load up to that year first.
    last_year = (day + timedelta(days=n)).year
    while True:
        cal = _overlaid(calendar, subdivision, day.year, last_year, overlay)
        result = cal.get_nth_working_day(day, n)
        # Past the loaded years the calendar knows no holidays: load more and recount.
        if result.year <= last_year:
            return result
        last_year = result.year + 1


def working_days_between(
    start: date,
    end: date,
    calendar: str,
    subdivision: str | None = None,
    overlay: CalendarOverlay = NO_OVERLAY,
) -> int:
    """Working days after ``start`` up to and including ``end``.

    The count a clock started on ``start`` has used by the end of ``end``, so
    ``working_days_between(d, nth_working_day(d, n)) == n``.
    """
    if end <= start:
        return 0
    first = start + timedelta(days=1)
    cal = _overlaid(calendar, subdivision, first.year, end.year, overlay)
    return cal.get_working_days_count(first, end)


def working_day_deadline(
    start: datetime,
    working_days: int,
    *,
    timezone: str,
    calendar: str,
    subdivision: str | None,
    overlay: CalendarOverlay = NO_OVERLAY,
) -> datetime:
    """The midnight that ends the ``working_days``-th working day after receipt.

    The day of receipt (in ``timezone``) never counts, working day or not: a
    complaint received on a Monday with 7 working days is due at the start of the day
    after the 7th working day after that Monday. The result is in UTC.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got naive {start.isoformat()}")
    tz = zone(timezone)
    receipt_day = start.astimezone(tz).date()
    last_day = nth_working_day(receipt_day, working_days, calendar, subdivision, overlay)
    # fold=0: if midnight falls in a DST gap this is the instant the day begins.
    end_of_last_day = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=tz)
    return end_of_last_day.astimezone(UTC)
