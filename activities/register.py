"""Case register activities: the SQL projection of each case (R4.1)."""

from __future__ import annotations

from temporalio import activity

from activities.models import CaseProgressInput


@activity.defn(name="record_case_progress")
def record_case_progress(input: CaseProgressInput) -> None:
    """Upsert the case row and add the new timeline events, each stored once."""
    raise NotImplementedError
