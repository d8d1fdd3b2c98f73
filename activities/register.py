"""Case register activities: the SQL projection of each case (R4.1)."""

from __future__ import annotations

from temporalio import activity

from contracts.activities import CaseProgressInput
from settings import get_settings
from store.cases import add_case_events, upsert_case
from store.db import session_scope


@activity.defn(name="record_case_progress")
def record_case_progress(input: CaseProgressInput) -> None:
    """Upsert the case row and add the new timeline events, each stored once.

    One transaction, so the row and its timeline never disagree. The events order
    the snapshots: one that comes with older events than the row already reflects is
    a late retry and leaves the row as it is (its events are still stored, once).
    """
    last_seq = max((event.seq for event in input.events), default=None)
    with session_scope(get_settings().database_url, write=True) as session:
        applied = upsert_case(session, snapshot=input.snapshot, last_seq=last_seq)
        added = add_case_events(session, case_id=input.snapshot.case_id, events=input.events)
    activity.logger.debug(
        "case %s projected: row %s, %d new events",
        input.snapshot.case_id,
        "updated" if applied else "kept (newer stored)",
        added,
    )
