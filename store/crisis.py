"""Crisis detection's reads over the register, and the incidents' member list (R8).

Every count is computed from the events' own times, so evaluating the same window
twice gives the same answer: the monitor can re-run an evaluation after a restart
without counting anything twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlmodel import Session, col

from store.idempotent import insert_once
from store.tables import CaseEventRow, CaseRow, CrisisMember, RemedyLedgerEntry

# The classification columns a rule may count by.
SCOPE_COLUMNS: Mapping[str, Any] = {
    "category": CaseRow.category,
    "product": CaseRow.product,
    "channel": CaseRow.channel,
    "department": CaseRow.department,
    "kind": CaseRow.kind,
}


def _conditions(
    *,
    types: Sequence[str],
    kinds: Sequence[str],
    scope: Mapping[str, str],
    start: datetime,
    end: datetime,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(CaseEventRow.type).in_(list(types)),
        col(CaseEventRow.at) >= start,
        col(CaseEventRow.at) < end,
    ]
    if kinds:
        conditions.append(col(CaseRow.kind).in_(list(kinds)))
    for name, value in scope.items():
        conditions.append(SCOPE_COLUMNS[name] == value)
    return conditions


def count_by_scope(
    session: Session,
    *,
    types: Sequence[str],
    kinds: Sequence[str],
    columns: Sequence[str],
    start: datetime,
    end: datetime,
    at_least: int = 1,
) -> list[tuple[dict[str, str], int]]:
    """Events in ``[start, end)`` per value of ``columns`` (groups with a missing
    value are left out: a surge "about no product" is not a surge about one)."""
    group = [SCOPE_COLUMNS[name] for name in columns]
    conditions = _conditions(types=types, kinds=kinds, scope={}, start=start, end=end)
    conditions += [column.is_not(None) for column in group]
    statement = (
        select(*group, func.count())
        .select_from(CaseEventRow)
        .join(CaseRow, col(CaseRow.case_id) == col(CaseEventRow.case_id))
        .where(*conditions)
        .group_by(*group)
        .having(func.count() >= at_least)
    )
    return [
        ({name: str(value) for name, value in zip(columns, row[:-1], strict=True)}, int(row[-1]))
        for row in session.execute(statement).all()
    ]


def count_in_scope(
    session: Session,
    *,
    types: Sequence[str],
    kinds: Sequence[str],
    scope: Mapping[str, str],
    start: datetime,
    end: datetime,
) -> int:
    statement = (
        select(func.count())
        .select_from(CaseEventRow)
        .join(CaseRow, col(CaseRow.case_id) == col(CaseEventRow.case_id))
        .where(*_conditions(types=types, kinds=kinds, scope=scope, start=start, end=end))
    )
    return int(session.execute(statement).scalar_one())


def matching_cases(
    session: Session,
    *,
    types: Sequence[str],
    kinds: Sequence[str],
    scope: Mapping[str, str],
    start: datetime,
    end: datetime,
    not_in_incident: str | None = None,
    limit: int = 2000,
) -> list[str]:
    """The cases with a matching event in ``[start, end)``, first event first, leaving
    out those already members of ``not_in_incident``."""
    conditions = _conditions(types=types, kinds=kinds, scope=scope, start=start, end=end)
    if not_in_incident is not None:
        member = exists().where(
            and_(
                col(CrisisMember.incident_id) == not_in_incident,
                col(CrisisMember.case_id) == col(CaseEventRow.case_id),
            )
        )
        conditions.append(~member)
    first = func.min(CaseEventRow.at)
    statement = (
        select(col(CaseEventRow.case_id), first)
        .join(CaseRow, col(CaseRow.case_id) == col(CaseEventRow.case_id))
        .where(*conditions)
        .group_by(col(CaseEventRow.case_id))
        .order_by(first, col(CaseEventRow.case_id))
        .limit(limit)
    )
    return [str(row[0]) for row in session.execute(statement).all()]


def add_members(
    session: Session, *, incident_id: str, case_ids: Sequence[str], at: datetime
) -> int:
    """Record cases as members of an incident; returns how many were new."""
    return sum(
        insert_once(session, CrisisMember(incident_id=incident_id, case_id=case_id, joined_at=at))
        for case_id in case_ids
    )


def member_ids(session: Session, *, incident_id: str) -> list[str]:
    statement = (
        select(col(CrisisMember.case_id))
        .where(col(CrisisMember.incident_id) == incident_id)
        .order_by(col(CrisisMember.joined_at), col(CrisisMember.case_id))
    )
    return [str(value) for value in session.execute(statement).scalars().all()]


def member_owners(session: Session, *, incident_id: str) -> list[tuple[str, str | None]]:
    """Each member case and its owner in the register (``None`` if nobody owns it)."""
    statement = (
        select(col(CrisisMember.case_id), col(CaseRow.owner))
        .join(CaseRow, col(CaseRow.case_id) == col(CrisisMember.case_id), isouter=True)
        .where(col(CrisisMember.incident_id) == incident_id)
        .order_by(col(CrisisMember.case_id))
    )
    return [(str(row[0]), row[1]) for row in session.execute(statement).all()]


def incident_impact(session: Session, *, incident_id: str) -> dict[str, Any]:
    """What the incident touched, from the register: member cases, distinct customers,
    clocks breached on them, and remedies recorded for them (count and sum)."""
    members = select(col(CrisisMember.case_id)).where(col(CrisisMember.incident_id) == incident_id)
    cases, customers = session.execute(
        select(func.count(), func.count(func.distinct(CaseRow.customer_id))).where(
            col(CaseRow.case_id).in_(members)
        )
    ).one()
    breaches = session.execute(
        select(func.count())
        .select_from(CaseEventRow)
        .where(col(CaseEventRow.case_id).in_(members), col(CaseEventRow.type) == "clock_breached")
    ).scalar_one()
    remedies = session.execute(
        select(col(RemedyLedgerEntry.amount)).where(col(RemedyLedgerEntry.case_id).in_(members))
    ).scalars()
    amounts = list(remedies)
    total = sum((a for a in amounts if a is not None), Decimal("0"))
    return {
        "cases": int(cases),
        "customers": int(customers),
        "breaches": int(breaches),
        "remedies": len(amounts),
        "remedy_amount": total,
    }
