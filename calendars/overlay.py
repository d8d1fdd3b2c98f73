"""The bank's calendar overlay: extra holidays and make-up working days on top of the
``holidays`` package, which lags such notices (the State Council announces each
year's holidays and 调休 make-up days around November).

The overlay is a data file the bank maintains (``CASE_CALENDAR_OVERLAY_FILE``), each
date with its source::

    [[holidays]]
    calendar = "CN"
    date = 2027-10-08
    name = "National Day (moved)"
    source = "State Council notice 国办发明电〔2026〕N号"

    [[working_days]]
    calendar = "CN"
    date = 2027-09-26
    source = "same notice: make-up working day (Sunday)"

Deadlines are counted in activities and recorded in the case's history, so a case
opened after the overlay changes counts with it and a running case keeps the
deadlines it already has.
"""

from __future__ import annotations

import hashlib
import tomllib
from copy import copy
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from holidays.holiday_base import HolidayBase

__all__ = [
    "NO_OVERLAY",
    "CalendarOverlay",
    "OverlayDay",
    "OverlayError",
    "apply_overlay",
    "load_overlay",
    "parse_overlay",
]


class OverlayError(ValueError):
    """An overlay file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class OverlayDay:
    calendar: str
    day: date
    source: str
    name: str = ""


@dataclass(frozen=True)
class CalendarOverlay:
    """Extra holidays and make-up working days, per calendar code."""

    holidays: tuple[OverlayDay, ...] = ()
    working_days: tuple[OverlayDay, ...] = ()
    version: str = "none"

    def days_for(self, calendar: str) -> tuple[frozenset[date], frozenset[date]]:
        """(extra holidays, make-up working days) of one calendar."""
        return (
            frozenset(d.day for d in self.holidays if d.calendar == calendar),
            frozenset(d.day for d in self.working_days if d.calendar == calendar),
        )

    @property
    def empty(self) -> bool:
        return not self.holidays and not self.working_days


NO_OVERLAY = CalendarOverlay()


def _day(entry: object, where: str, *, named: bool) -> OverlayDay:
    if not isinstance(entry, dict):
        raise OverlayError(f"{where}: not a table")
    allowed = {"calendar", "date", "source", "name"} if named else {"calendar", "date", "source"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise OverlayError(f"{where}.{unknown[0]}: unknown key")
    for key in ("calendar", "date", "source", *(("name",) if named else ())):
        if key not in entry:
            raise OverlayError(f"{where}.{key}: missing")
    calendar, day, source = entry["calendar"], entry["date"], entry["source"]
    if not isinstance(calendar, str) or not calendar.isupper():
        raise OverlayError(f"{where}.calendar: a calendar code in upper case, e.g. 'CN'")
    if not isinstance(day, date):
        raise OverlayError(f"{where}.date: a TOML date (2027-10-08), got {day!r}")
    if not isinstance(source, str) or not source.strip():
        raise OverlayError(f"{where}.source: name the notice the date comes from")
    name = entry.get("name", "")
    if named and (not isinstance(name, str) or not name.strip()):
        raise OverlayError(f"{where}.name: the holiday's name")
    return OverlayDay(calendar, day, source.strip(), str(name).strip())


def parse_overlay(content: bytes, source: str) -> CalendarOverlay:
    """An overlay from its file's bytes, checked completely."""
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise OverlayError(f"{source}: not valid UTF-8 TOML: {err}") from err
    unknown = sorted(set(data) - {"holidays", "working_days", "version"})
    if unknown:
        raise OverlayError(f"{source}: {unknown[0]}: unknown key")
    extra = tuple(
        _day(e, f"{source}: holidays[{i}]", named=True)
        for i, e in enumerate(data.get("holidays", []))
    )
    workdays = tuple(
        _day(e, f"{source}: working_days[{i}]", named=False)
        for i, e in enumerate(data.get("working_days", []))
    )
    clash = {(d.calendar, d.day) for d in extra} & {(d.calendar, d.day) for d in workdays}
    if clash:
        calendar, day = sorted(clash)[0]
        raise OverlayError(f"{source}: working_days: {calendar} {day} is also listed as a holiday")
    digest = hashlib.sha256(content).hexdigest()[:10]
    return CalendarOverlay(extra, workdays, f"{data.get('version', 'overlay')}+{digest}")


def load_overlay(path: Path | None) -> CalendarOverlay:
    """The overlay in ``path`` (``None``: no overlay), re-read when the file changes."""
    if path is None:
        return NO_OVERLAY
    try:
        stat = path.stat()
    except OSError as err:
        raise OverlayError(f"calendar overlay {path}: cannot be read: {err.strerror}") from err
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> CalendarOverlay:
    try:
        content = Path(path).read_bytes()
    except OSError as err:
        raise OverlayError(f"calendar overlay {path}: cannot be read: {err.strerror}") from err
    return parse_overlay(content, f"calendar overlay {path}")


def apply_overlay(base: HolidayBase, calendar: str, overlay: CalendarOverlay) -> HolidayBase:
    """A copy of ``base`` with the overlay's days for ``calendar``: its holidays added,
    its make-up working days working (on a weekend) and no longer holidays."""
    extra, workdays = overlay.days_for(calendar)
    if not extra and not workdays:
        return base
    years = set(base.years)
    cal = copy(base)
    # copy() shares the dict's contents' container attributes: give the copy its own.
    cal.weekend_workdays = set(base.weekend_workdays)
    for day in extra:
        if day.year in years:
            dict.__setitem__(cal, day, "overlay holiday")
    for day in workdays:
        if day.year in years:
            if day in cal:
                dict.__delitem__(cal, day)
            cal.weekend_workdays.add(day)
    return cal
