"""Working-day deadlines: the end of the Nth working day after the day of receipt (R4.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from holidays.holiday_base import HolidayBase
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars import (
    UnknownCalendarError,
    UnknownTimezoneError,
    is_working_day,
    nth_working_day,
    working_day_deadline,
    working_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def cn_deadline(received: datetime, working_days: int) -> datetime:
    return working_day_deadline(
        received, working_days, timezone="Asia/Shanghai", calendar="CN", subdivision=None
    )


def test_2026_national_day_as_the_holidays_package_publishes_it() -> None:
    """The premise of the next test: 1-7 October off, 20 Sep and 10 Oct worked."""
    cn = holidays.country_holidays("CN", years=2026)
    days_off = [date(2026, 10, d) for d in range(1, 8)]
    assert [cn.is_working_day(d) for d in days_off] == [False] * 7
    make_up_days = sorted(d for d in cn.weekend_workdays if d.year == 2026 and d.month >= 9)
    assert make_up_days == [date(2026, 9, 20), date(2026, 10, 10)]


def test_complaint_received_before_national_day_is_due_after_seven_working_days() -> None:
    # Received Mon 2026-09-28 (the day of receipt does not count). Working days counted:
    #   1 Tue 09-29, 2 Wed 09-30,
    #   (Thu 10-01 .. Wed 10-07 National Day and its substituted days off),
    #   3 Thu 10-08, 4 Fri 10-09, 5 Sat 10-10 (make-up working day for 10-07),
    #   (Sun 10-11 weekend), 6 Mon 10-12, 7 Tue 10-13.
    # Due at the midnight ending Tue 10-13: 2026-10-14 00:00 Beijing time.
    received = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)

    deadline = cn_deadline(received, 7)

    assert deadline == datetime(2026, 10, 13, 16, 0, tzinfo=UTC)
    assert deadline.astimezone(SHANGHAI) == datetime(2026, 10, 14, 0, 0, tzinfo=SHANGHAI)
    assert deadline.tzinfo is UTC


def test_day_of_receipt_is_the_local_day_not_the_utc_day() -> None:
    # 20:00 UTC on Mon 09-28 is 04:00 on Tue 09-29 in Beijing: Tuesday is the day of
    # receipt, so one working day later is Wed 09-30, due at 10-01 00:00 Beijing time.
    received = datetime(2026, 9, 28, 20, 0, tzinfo=UTC)

    assert cn_deadline(received, 1) == datetime(2026, 10, 1, 0, 0, tzinfo=SHANGHAI)


def test_day_of_receipt_does_not_count_even_when_it_is_a_day_off() -> None:
    # Received Sat 10-03 during National Day: the first working day after it is Thu 10-08.
    received = datetime(2026, 10, 3, 9, 30, tzinfo=SHANGHAI)

    assert cn_deadline(received, 1) == datetime(2026, 10, 9, 0, 0, tzinfo=SHANGHAI)


def test_make_up_saturday_counts_as_a_working_day() -> None:
    # Received Fri 10-09: Sat 10-10 is a make-up working day, so it is the first one.
    received = datetime(2026, 10, 9, 17, 0, tzinfo=SHANGHAI)

    assert cn_deadline(received, 1) == datetime(2026, 10, 11, 0, 0, tzinfo=SHANGHAI)


def test_working_days_in_china_follow_the_make_up_schedule() -> None:
    assert is_working_day(date(2026, 10, 10), "CN")  # Saturday, make-up day
    assert is_working_day(date(2026, 9, 20), "CN")  # Sunday, make-up day
    assert not is_working_day(date(2026, 10, 11), "CN")  # ordinary Sunday
    assert not is_working_day(date(2026, 10, 7), "CN")  # substituted day off
    assert is_working_day(date(2026, 10, 8), "CN")


def test_working_days_between_counts_what_the_deadline_counted() -> None:
    assert working_days_between(date(2026, 9, 28), date(2026, 10, 13), "CN") == 7
    assert working_days_between(date(2026, 10, 13), date(2026, 9, 28), "CN") == 0
    assert nth_working_day(date(2026, 9, 28), 7, "CN") == date(2026, 10, 13)


def test_uk_deadline_across_christmas_and_new_year() -> None:
    # Received Wed 2026-12-23 in London. Working days: 1 Thu 12-24, (Fri 12-25 Christmas,
    # weekend, Mon 12-28 Boxing Day observed), 2 Tue 12-29, 3 Wed 12-30, 4 Thu 12-31,
    # (Fri 2027-01-01 New Year's Day, weekend), 5 Mon 2027-01-04.
    received = datetime(2026, 12, 23, 11, 0, tzinfo=ZoneInfo("Europe/London"))

    deadline = working_day_deadline(
        received, 5, timezone="Europe/London", calendar="GB", subdivision="ENG"
    )

    assert deadline == datetime(2027, 1, 5, 0, 0, tzinfo=UTC)


def test_us_deadline_skips_the_observed_independence_day() -> None:
    # Received Thu 2026-07-02: Fri 07-03 is Independence Day observed, then the weekend.
    received = datetime(2026, 7, 2, 15, 0, tzinfo=ZoneInfo("America/New_York"))

    deadline = working_day_deadline(
        received, 1, timezone="America/New_York", calendar="US", subdivision=None
    )

    assert deadline == datetime(2026, 7, 7, 4, 0, tzinfo=UTC)  # 00:00 EDT


def test_a_long_clock_loads_the_years_it_crosses() -> None:
    start = date(2026, 6, 1)
    last = nth_working_day(start, 600, "CN")

    assert last.year >= 2028
    assert working_days_between(start, last, "CN") == 600


def test_unknown_calendar_is_named() -> None:
    received = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)
    with pytest.raises(UnknownCalendarError, match="unknown calendar: 'ZZ'"):
        working_day_deadline(received, 7, timezone="Asia/Shanghai", calendar="ZZ", subdivision=None)


def test_unknown_subdivision_is_named() -> None:
    with pytest.raises(UnknownCalendarError, match="subdivision of calendar 'US': 'ZZ'"):
        is_working_day(date(2026, 7, 3), "US", "ZZ")


def test_unknown_timezone_is_named() -> None:
    received = datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI)
    with pytest.raises(UnknownTimezoneError, match="unknown time zone: 'Asia/Beijing'"):
        working_day_deadline(received, 7, timezone="Asia/Beijing", calendar="CN", subdivision=None)


def test_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cn_deadline(datetime(2026, 9, 28, 10, 0), 7)


def test_zero_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cn_deadline(datetime(2026, 9, 28, 10, 0, tzinfo=SHANGHAI), 0)


# --- the rule, checked against the holidays package on random receipts ----------------

REGIONS = [("CN", "Asia/Shanghai"), ("GB", "Europe/London"), ("US", "America/New_York")]


@cache
def oracle(calendar: str) -> HolidayBase:
    """The package's own calendar, loaded lazily (expand=True) as a user would."""
    return holidays.country_holidays(calendar)


@settings(deadline=None, max_examples=150)
@given(
    received=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    working_days=st.integers(min_value=1, max_value=40),
    region=st.sampled_from(REGIONS),
)
def test_deadline_ends_the_nth_working_day_after_the_day_of_receipt(
    received: datetime, working_days: int, region: tuple[str, str]
) -> None:
    calendar, timezone = region
    tz = ZoneInfo(timezone)

    deadline = working_day_deadline(
        received, working_days, timezone=timezone, calendar=calendar, subdivision=None
    )

    local_deadline = deadline.astimezone(tz)
    receipt_day = received.astimezone(tz).date()
    last_day = local_deadline.date() - timedelta(days=1)
    cal = oracle(calendar)
    assert deadline.tzinfo is UTC
    assert local_deadline.time() == time(0, 0)
    assert cal.is_working_day(last_day)
    assert cal.get_working_days_count(receipt_day + timedelta(days=1), last_day) == working_days
