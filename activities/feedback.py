"""The feedback record table (R6.1, R7.3)."""

from __future__ import annotations

from temporalio import activity

from activities.models import FeedbackRecordInput


@activity.defn(name="record_feedback")
def record_feedback(input: FeedbackRecordInput) -> None:
    raise NotImplementedError
