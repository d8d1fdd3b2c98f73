"""Case register activities: the SQL projection of each case (R4.1)."""

from __future__ import annotations

from temporalio import activity

from contracts.activities import CaseProgressInput
from settings import get_settings
from store.group_commit import group_writer
from store.projection import project_many, project_one


@activity.defn(name="record_case_progress")
def record_case_progress(input: CaseProgressInput) -> None:
    """Upsert the case row and add the new timeline events, each stored once.

    One transaction, so the row and its timeline never disagree; it carries the other
    cases' steps waiting at the same moment too (``store.group_commit``). The events
    order the snapshots: one that comes with older events than the row already
    reflects is a late retry and leaves the row as it is (its events are still
    stored, once).
    """
    writer = group_writer(
        get_settings().database_url,
        name="case-register",
        write_batch=project_many,
        write_one=project_one,
    )
    applied = writer.write(input)
    activity.logger.debug(
        "case %s projected: row %s, %d events",
        input.snapshot.case_id,
        "updated" if applied else "kept (newer stored)",
        len(input.events),
    )
