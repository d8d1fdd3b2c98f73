"""Temporal visibility queries that find stuck cases (README "For supervisors").

Each text works as is in the Web UI's workflow filter and in
``temporal workflow list --query``; the API runs the same texts for
``GET /v1/cases?stuck=...``. Search attributes carry no personal data, so these
queries see stage, department and deadlines only. Visibility trails the workflow by
a moment: a case that changed a second ago may still show its old values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Stuck(StrEnum):
    BREACHED = "breached"
    DEPARTMENT_OVERDUE = "department_overdue"
    DUE_WITHIN_HOUR = "due_within_hour"
    ESCALATED = "escalated"


BREACHED = "CaseBreached = true AND ExecutionStatus = 'Running'"
"""Open cases that have missed at least one deadline."""

DEPARTMENT_OVERDUE = (
    "CaseDepartment = '{department}' AND CaseBreached = true"
    " AND CaseStage IN ('awaiting_department_plan', 'awaiting_department_result')"
    " AND ExecutionStatus = 'Running'"
)
"""Open cases waiting on one department's plan or result past a deadline (R3.5, R3.6).
Replace ``{department}`` with the department's code."""

DUE_WITHIN_HOUR = "CaseNextDeadline < '{until}' AND ExecutionStatus = 'Running'"
"""Open cases whose next deadline falls within the next hour; ``{until}`` is now plus
one hour in RFC 3339 (``2025-03-01T10:00:00Z``). ``CaseNextDeadline`` is the nearest
deadline of a clock still running; a missed deadline is no longer "next", so overdue
cases are found with the breached query instead."""

ESCALATED = "CaseEscalationLevel >= 2 AND ExecutionStatus = 'Running'"
"""Open cases escalated to the second rung of the ladder or higher."""

TEMPLATES: dict[Stuck, str] = {
    Stuck.BREACHED: BREACHED,
    Stuck.DEPARTMENT_OVERDUE: DEPARTMENT_OVERDUE,
    Stuck.DUE_WITHIN_HOUR: DUE_WITHIN_HOUR,
    Stuck.ESCALATED: ESCALATED,
}

# Department codes go into a quoted literal: allow only characters that cannot end it.
DEPARTMENT_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def render(stuck: Stuck, *, department: str | None = None, now: datetime | None = None) -> str:
    """The query text for ``stuck``, its placeholders filled in."""
    if stuck is Stuck.DEPARTMENT_OVERDUE:
        if department is None or not DEPARTMENT_CODE.match(department):
            raise ValueError("department_overdue needs a department code (letters, digits, _.-)")
        return DEPARTMENT_OVERDUE.format(department=department)
    if stuck is Stuck.DUE_WITHIN_HOUR:
        until = (now or datetime.now(UTC)).astimezone(UTC) + timedelta(hours=1)
        return DUE_WITHIN_HOUR.format(until=until.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return TEMPLATES[stuck]
