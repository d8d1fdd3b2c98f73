"""The case register (R4.1): write the projection, read it for lists and queues.

The workflow owns the case; these rows are a projection written by the
``record_case_progress`` activity. Reads serve the API's lists, the departments'
queues and the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from contracts.activities import CaseSnapshot
from contracts.case import Stage, TimelineEvent
from store.case_clocks import replace_case_clocks
from store.case_regulatory import replace_case_regulatory
from store.idempotent import UPSERTS, execute_cached, insert_values_once, table_of
from store.tables import CaseEventRow, CaseRow

# A case in one of these stages needs nobody's work (a resolved case may still be
# reopened by the customer, but until then it waits for no one).
FINISHED_STAGES: tuple[Stage, ...] = (Stage.RESOLVED, Stage.CLOSED)
DEPARTMENT_STAGES: tuple[Stage, ...] = (
    Stage.AWAITING_DEPARTMENT_PLAN,
    Stage.AWAITING_DEPARTMENT_RESULT,
)
MAX_PAGE = 500


def case_values(snapshot: CaseSnapshot) -> dict[str, Any]:
    """The case row's columns from a snapshot (one step alone, or many at once)."""
    data = snapshot.model_dump(mode="json")
    return {
        "case_id": snapshot.case_id,
        "kind": snapshot.kind.value,
        "channel": snapshot.channel,
        "category": snapshot.category,
        "product": snapshot.product,
        "priority": snapshot.priority.value,
        "customer_id": snapshot.customer_id,
        "stage": snapshot.stage.value,
        "owner": snapshot.owner,
        "department": snapshot.department,
        "opened_at": snapshot.opened_at,
        "opened_by": snapshot.opened_by,
        "closed_at": snapshot.closed_at,
        "breached": snapshot.breached,
        "escalation_level": snapshot.escalation_level,
        "next_deadline": snapshot.next_deadline,
        "policy_version": snapshot.policy_version,
        "clocks": data["clocks"],
    }


def upsert_case(session: Session, *, snapshot: CaseSnapshot, last_seq: int | None = None) -> bool:
    """Write the case's row; ``True`` if the snapshot was applied.

    ``last_seq`` is the highest timeline sequence number the snapshot reflects. A
    snapshot older than the stored one (a late retry of an earlier projection) is
    ignored, so the register never moves a case backwards. ``None`` means the
    snapshot cannot be ordered (it came with no events): it is applied and the
    stored sequence number is kept.
    """
    values = case_values(snapshot)
    values["updated_at"] = datetime.now(UTC)
    values["last_seq"] = last_seq if last_seq is not None else 0
    applied = snapshot.case_id in upsert_case_rows(session, [values], ordered=last_seq is not None)
    if applied:
        replace_case_clocks(session, case_id=snapshot.case_id, clocks=snapshot.clocks.values())
        replace_case_regulatory(session, case_id=snapshot.case_id, regulatory=snapshot.regulatory)
    return applied


def upsert_case_rows(session: Session, rows: list[dict[str, Any]], *, ordered: bool) -> set[str]:
    """Insert or update case rows (``case_values`` plus ``updated_at`` and ``last_seq``)
    in one statement; the IDs whose row now holds the values given.

    ``ordered``: a stored row with a higher ``last_seq`` is kept (a late retry changes
    nothing). Unordered rows always apply and keep the stored ``last_seq``.
    """
    dialect = session.get_bind().dialect.name
    if dialect not in UPSERTS:
        raise NotImplementedError(f"the register supports SQLite and PostgreSQL, not {dialect}")
    build = _ordered_case_upsert if ordered else _unordered_case_upsert
    # RETURNING names the rows inserted or updated, not those the WHERE kept.
    return set(execute_cached(session, dialect, table_of(CaseRow), build, rows).scalars().all())


def _case_upsert(insert: Any, *, ordered: bool) -> Any:
    table = insert.table
    updated = [
        column.name
        for column in table.columns
        if column.name != "case_id" and (ordered or column.name != "last_seq")
    ]
    return insert.on_conflict_do_update(
        index_elements=["case_id"],
        set_={name: insert.excluded[name] for name in updated},
        where=table.c.last_seq <= insert.excluded.last_seq if ordered else None,
    ).returning(table.c.case_id)


def _ordered_case_upsert(insert: Any) -> Any:
    return _case_upsert(insert, ordered=True)


def _unordered_case_upsert(insert: Any) -> Any:
    return _case_upsert(insert, ordered=False)


def stored_last_seq(session: Session, *, case_id: str) -> int | None:
    """The highest projected sequence number of a case (``None`` if not registered)."""
    return session.exec(select(CaseRow.last_seq).where(CaseRow.case_id == case_id)).first()


def event_values(case_id: str, events: Sequence[TimelineEvent]) -> list[dict[str, Any]]:
    """The register's rows of a case's timeline events, as column values."""
    return [
        {
            "case_id": case_id,
            "seq": event.seq,
            "type": event.type,
            "at": event.at,
            "actor": event.actor,
            "detail": event.detail,
            "data": event.model_dump(mode="json")["data"],
        }
        for event in events
    ]


def add_case_events(session: Session, *, case_id: str, events: Sequence[TimelineEvent]) -> int:
    """Store the timeline events not stored yet; returns how many were new."""
    return insert_values_once(session, table_of(CaseEventRow), event_values(case_id, events))


def get_case_row(session: Session, *, case_id: str) -> CaseRow | None:
    return session.get(CaseRow, case_id)


def list_case_events(session: Session, *, case_id: str, after_seq: int = -1) -> list[CaseEventRow]:
    """The case's timeline in order (optionally only what follows ``after_seq``)."""
    statement = (
        select(CaseEventRow)
        .where(CaseEventRow.case_id == case_id, CaseEventRow.seq > after_seq)
        .order_by(col(CaseEventRow.seq))
    )
    return list(session.exec(statement).all())


def timeline_upto(session: Session, *, case_id: str, upto_seq: int) -> list[TimelineEvent]:
    """The case's timeline events up to ``upto_seq``: those of a case's earlier runs,
    which the workflow no longer carries once it has continued as new."""
    statement = (
        select(CaseEventRow)
        .where(CaseEventRow.case_id == case_id, CaseEventRow.seq <= upto_seq)
        .order_by(col(CaseEventRow.seq))
    )
    return [
        TimelineEvent(
            seq=row.seq, type=row.type, at=row.at, actor=row.actor, detail=row.detail, data=row.data
        )
        for row in session.exec(statement).all()
    ]


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, not {offset}")


def _count(session: Session, conditions: Sequence[ColumnElement[bool]]) -> int:
    statement = select(func.count()).select_from(CaseRow).where(*conditions)
    return session.exec(statement).one()


def list_cases(
    session: Session,
    *,
    kind: str | None = None,
    channel: str | None = None,
    stage: str | None = None,
    department: str | None = None,
    owner: str | None = None,
    category: str | None = None,
    product: str | None = None,
    priority: str | None = None,
    customer_id: str | None = None,
    breached: bool | None = None,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    open_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[CaseRow], int]:
    """One page of the register, newest first, and how many cases match in all.

    ``opened_from`` is inclusive, ``opened_to`` exclusive; ``open_only`` leaves out
    resolved and closed cases.
    """
    _page(limit, offset)
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (CaseRow.kind, kind),
        (CaseRow.channel, channel),
        (CaseRow.stage, stage),
        (CaseRow.department, department),
        (CaseRow.owner, owner),
        (CaseRow.category, category),
        (CaseRow.product, product),
        (CaseRow.priority, priority),
        (CaseRow.customer_id, customer_id),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if breached is not None:
        conditions.append(col(CaseRow.breached) == breached)
    if opened_from is not None:
        conditions.append(col(CaseRow.opened_at) >= opened_from)
    if opened_to is not None:
        conditions.append(col(CaseRow.opened_at) < opened_to)
    if open_only:
        conditions.append(col(CaseRow.stage).not_in([s.value for s in FINISHED_STAGES]))
    statement = (
        select(CaseRow)
        .where(*conditions)
        .order_by(col(CaseRow.opened_at).desc(), col(CaseRow.case_id))
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(statement).all()), _count(session, conditions)


def department_open_cases(
    session: Session, *, department: str, limit: int = 50, offset: int = 0
) -> tuple[list[CaseRow], int]:
    """A department's queue (R3.5, R3.6): its cases waiting for a plan or a result,
    the nearest deadline first."""
    _page(limit, offset)
    conditions: list[ColumnElement[bool]] = [
        col(CaseRow.department) == department,
        col(CaseRow.stage).in_([s.value for s in DEPARTMENT_STAGES]),
    ]
    statement = (
        select(CaseRow)
        .where(*conditions)
        .order_by(
            col(CaseRow.next_deadline).is_(None),
            col(CaseRow.next_deadline),
            col(CaseRow.opened_at),
            col(CaseRow.case_id),
        )
        .limit(limit)
        .offset(offset)
    )
    return list(session.exec(statement).all()), _count(session, conditions)


def to_snapshot(row: CaseRow) -> CaseSnapshot:
    """The register row as the typed snapshot the workflow wrote (its regulatory side
    is in the regulatory tables, ``store.case_regulatory``, not on the row)."""
    return CaseSnapshot.model_validate(
        {name: getattr(row, name) for name in CaseSnapshot.model_fields if name != "regulatory"}
    )
