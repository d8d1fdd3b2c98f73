"""The feedback record table (R6.1, R7.3)."""

from __future__ import annotations

from temporalio import activity

from contracts.activities import FeedbackRecordInput
from settings import get_settings
from store.db import session_scope
from store.idempotent import insert_once
from store.tables import FeedbackRecord


@activity.defn(name="record_feedback")
def record_feedback(input: FeedbackRecordInput) -> None:
    """Enter the customer's score and comment once per ``feedback_id``, with the case's
    owner and channel, so the monthly analysis (R6.2) can trace it back."""
    record = FeedbackRecord(
        feedback_id=input.feedback_id,
        case_id=input.case_id,
        kind=input.kind.value,
        channel=input.channel,
        category=input.category,
        owner=input.owner,
        score=input.score,
        comment=input.comment,
        at=input.at,
    )
    with session_scope(get_settings().database_url, write=True) as session:
        insert_once(session, record)
