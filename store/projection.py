"""The register's projection of many cases in one transaction, a few statements in all.

``record_case_progress`` runs once per case step; under load its writes queue behind
one another (SQLite has one writer, and every statement waits for the interpreter
lock again). Writing the steps that are waiting together, as one multi-row statement
per table, turns some ten statements per step into about six per batch. What each
step writes is the same as ``upsert_case`` and ``add_case_events`` write for it alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, insert
from sqlmodel import Session

from contracts.activities import CaseProgressInput
from store.case_clocks import CASE_CLOCKS, clock_values
from store.case_regulatory import replace_case_regulatory
from store.cases import add_case_events, case_values, event_values, upsert_case, upsert_case_rows
from store.idempotent import insert_values_once, table_of
from store.tables import CaseEventRow


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
    seqs = [last_seq_of(progress) for progress in batch]
    newest: dict[str, int] = {}
    for index, (progress, seq) in enumerate(zip(batch, seqs, strict=True)):
        if seq is None:
            # Unordered snapshots are rare (a projection with no new events): alone.
            results[index] = project_one(session, progress)
            continue
        held = newest.setdefault(progress.snapshot.case_id, index)
        if seq > (seqs[held] or -1):
            newest[progress.snapshot.case_id] = index
    chosen = [batch[i] for i in sorted(newest.values(), key=lambda i: batch[i].snapshot.case_id)]
    applied = _upsert_rows(session, chosen)
    for index in newest.values():
        results[index] = batch[index].snapshot.case_id in applied
    written = [progress for progress in chosen if progress.snapshot.case_id in applied]
    _replace_clocks(session, written)
    for progress in written:
        if progress.snapshot.regulatory is not None:
            replace_case_regulatory(
                session, case_id=progress.snapshot.case_id, regulatory=progress.snapshot.regulatory
            )
    # Two attempts of one step in a batch carry the same events: one statement may not
    # name a key twice on PostgreSQL, so each (case, seq) goes in once.
    events = {
        (row["case_id"], row["seq"]): row
        for progress, seq in sorted(
            zip(batch, seqs, strict=True), key=lambda p: p[0].snapshot.case_id
        )
        if seq is not None
        for row in event_values(progress.snapshot.case_id, progress.events)
    }
    insert_values_once(session, table_of(CaseEventRow), list(events.values()))
    return results


def _upsert_rows(session: Session, batch: Sequence[CaseProgressInput]) -> set[str]:
    """Insert or update the case rows; the IDs whose row now holds the snapshot."""
    if not batch:
        return set()
    now = datetime.now(UTC)
    rows = [
        case_values(progress.snapshot) | {"updated_at": now, "last_seq": last_seq_of(progress)}
        for progress in batch
    ]
    return upsert_case_rows(session, rows, ordered=True)


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
        # The rows as parameters (executemany): one compiled statement for any batch.
        session.connection().execute(insert(CASE_CLOCKS), rows)
