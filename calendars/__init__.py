"""Working days per region, counted by the ``holidays`` package (never by hand)."""

from calendars.overlay import (
    NO_OVERLAY,
    CalendarOverlay,
    OverlayError,
    load_overlay,
    parse_overlay,
)
from calendars.working_days import (
    CalendarError,
    UnknownCalendarError,
    UnknownTimezoneError,
    check_calendar,
    holiday_calendar,
    is_working_day,
    nth_working_day,
    working_day_deadline,
    working_days_between,
    zone,
)

__all__ = [
    "NO_OVERLAY",
    "CalendarError",
    "CalendarOverlay",
    "OverlayError",
    "UnknownCalendarError",
    "UnknownTimezoneError",
    "check_calendar",
    "holiday_calendar",
    "is_working_day",
    "load_overlay",
    "nth_working_day",
    "parse_overlay",
    "working_day_deadline",
    "working_days_between",
    "zone",
]
