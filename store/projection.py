"""The register's projection of many cases in one transaction, a few statements in all.

``record_case_progress`` runs once per case step; under load its writes queue behind
one another (SQLite has one writer, and every statement waits for the interpreter
lock again). Writing the steps that are waiting together, as one multi-row statement
per table, turns some ten statements per step into about six per batch. What each
step writes is the same as ``upsert_case`` and ``add_case_events`` write for it alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from contracts.activities import CaseProgressInput
from store.case_clocks import CASE_CLOCKS, clock_values
from store.case_regulatory import replace_case_regulatory
from store.cases import add_case_events, case_values, event_rows, upsert_case
from store.idempotent import insert_many_once, table_of
from store.tables import CaseEventRow, CaseRow

# Both dialects' INSERT has the same ON CONFLICT DO UPDATE ... RETURNING.
UPSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def last_seq_of(progress: CaseProgressInput) -> int | None:
    """The highest timeline sequence number a step's snapshot reflects (``None``: it
    came with no events and cannot be ordered)."""
    return max((event.seq for event in progress.events), default=None)


def project_one(session: Session, progress: CaseProgressInput) -> bool:
    """One step on its own: ``True`` if its snapshot was applied to the case's row."""
    applied = upsert_case(session, snapshot=progress.snapshot, last_seq=last_seq_of(progress))
    add_case_events(session, case_id=progress.snapshot.case_id, events=progress.events)
    return applied


def project_many(session: Session, batch: Sequence[CaseProgressInput]) -> list[bool]:
    """Several steps in one transaction; for each, whether its snapshot was applied.

    As for one step: a snapshot older than the stored row (a late retry) leaves the row
    as it is, and every event is stored once. Of two steps of one case in a batch only
    the newer snapshot can apply. Rows are written in case order, so two processes
    writing overlapping batches lock them in the same order.
    """
    results = [False] * len(batch)
    newest: dict[str, int] = {}
    for index, progress in enumerate(batch):
        seq = last_seq_of(progress)
        if seq is None:
            # Unordered snapshots are rare (a projection with no new events): alone.
            results[index] = project_one(session, progress)
            continue
        case_id = progress.snapshot.case_id
        held = newest.get(case_id)
        if held is None or seq > (last_seq_of(batch[held]) or -1):
            newest[case_id] = index
    chosen = sorted(newest.values(), key=lambda i: batch[i].snapshot.case_id)
    applied = _upsert_rows(session, [batch[i] for i in chosen])
    for index in chosen:
        results[index] = batch[index].snapshot.case_id in applied
    _replace_clocks(session, [batch[i] for i in chosen if batch[i].snapshot.case_id in applied])
    for index in chosen:
        snapshot = batch[index].snapshot
        if snapshot.case_id in applied and snapshot.regulatory is not None:
            replace_case_regulatory(
                session, case_id=snapshot.case_id, regulatory=snapshot.regulatory
            )
    events = [
        row
        for progress in sorted(batch, key=lambda p: p.snapshot.case_id)
        if last_seq_of(progress) is not None
        for row in event_rows(progress.snapshot.case_id, progress.events)
    ]
    insert_many_once(session, _unique_events(events))
    return results


def _unique_events(rows: list[CaseEventRow]) -> list[CaseEventRow]:
    # Two attempts of one step in a batch carry the same events: one statement may not
    # name a key twice on PostgreSQL.
    seen: set[tuple[str, int]] = set()
    unique = []
    for row in rows:
        key = (row.case_id, row.seq)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _upsert_rows(session: Session, batch: Sequence[CaseProgressInput]) -> set[str]:
    """Insert or update the case rows; the IDs whose row now holds the snapshot."""
    if not batch:
        return set()
    table = table_of(CaseRow)
    now = datetime.now(UTC)
    rows = []
    for progress in batch:
        values = case_values(progress.snapshot)
        values["updated_at"] = now
        values["last_seq"] = last_seq_of(progress)
        rows.append(values)
    updated = [name for name in rows[0] if name != "case_id"]
    dialect = session.get_bind().dialect.name
    if dialect not in UPSERTS:
        raise NotImplementedError(f"the register supports SQLite and PostgreSQL, not {dialect}")
    rows_insert = UPSERTS[dialect](table).values(rows)
    statement = rows_insert.on_conflict_do_update(
        index_elements=["case_id"],
        set_={name: rows_insert.excluded[name] for name in updated},
        where=table.c.last_seq <= rows_insert.excluded.last_seq,
    ).returning(table.c.case_id)
    # RETURNING names the rows inserted or updated, not those the WHERE kept.
    return set(session.exec(statement).scalars().all())


def _replace_clocks(session: Session, batch: Sequence[CaseProgressInput]) -> None:
    """Make each case's clock rows its snapshot's clocks (as ``replace_case_clocks``)."""
    if not batch:
        return
    ids = [progress.snapshot.case_id for progress in batch]
    session.exec(delete(CASE_CLOCKS).where(CASE_CLOCKS.c.case_id.in_(ids)))
    rows = [
        clock_values(progress.snapshot.case_id, clock)
        for progress in batch
        for clock in progress.snapshot.clocks.values()
    ]
    if rows:
        session.exec(insert(CASE_CLOCKS).values(rows))
