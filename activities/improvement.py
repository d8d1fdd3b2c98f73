"""Project an improvement action's workflow into the register (R6.3)."""

from __future__ import annotations

from temporalio import activity

from contracts.improvement import ActionState
from settings import get_settings
from store.db import session_scope
from store.improvement import upsert_action


@activity.defn(name="record_improvement_action")
def record_improvement_action(input: ActionState) -> None:
    """Write the action's newest state; a late retry of an older one changes nothing."""
    with session_scope(get_settings().database_url, write=True) as session:
        upsert_action(session, input)


IMPROVEMENT_ACTIVITIES = (record_improvement_action,)
