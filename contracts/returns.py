"""The periods of the regulators' returns (R9): a month ``yyyy-mm``, a quarter
``yyyy-Qn`` or a half year ``yyyy-Hn``, as local dates ``[start, end)``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from contracts.periods import PeriodError, add_months
from contracts.policy import ReportingPeriod

_PATTERNS: dict[ReportingPeriod, tuple[re.Pattern[str], int, str]] = {
    ReportingPeriod.MONTH: (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), 1, "yyyy-mm, e.g. 2026-11"),
    ReportingPeriod.QUARTER: (re.compile(r"^(\d{4})-Q([1-4])$"), 3, "yyyy-Qn, e.g. 2026-Q4"),
    ReportingPeriod.HALF_YEAR: (re.compile(r"^(\d{4})-H([12])$"), 6, "yyyy-Hn, e.g. 2026-H2"),
}


@dataclass(frozen=True)
class ReturnPeriod:
    """One period of a return, in local dates."""

    kind: ReportingPeriod
    label: str
    start: date
    end: date


def parse_return_period(label: str, allowed: Sequence[ReportingPeriod]) -> ReturnPeriod:
    """The period ``label`` names, if it is one of the kinds ``allowed`` (the profile's);
    :class:`PeriodError` naming the kinds otherwise."""
    for kind in allowed:
        pattern, months, _ = _PATTERNS[kind]
        match = pattern.match(label)
        if match is not None:
            start = date(int(match[1]), (int(match[2]) - 1) * months + 1, 1)
            return ReturnPeriod(kind, label, start, add_months(start, months))
    wanted = " or ".join(f"a {k.value.replace('_', ' ')} ({_PATTERNS[k][2]})" for k in allowed)
    raise PeriodError(f"period {label!r}: this profile's return covers {wanted}")
