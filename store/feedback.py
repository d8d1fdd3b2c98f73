"""The feedback record table (R6.1, R7.3), read by the monthly analysis (R6.2)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from store.tables import FeedbackRecord


def get_feedback(session: Session, *, feedback_id: str) -> FeedbackRecord | None:
    return session.get(FeedbackRecord, feedback_id)


def feedback_between(session: Session, *, start: datetime, end: datetime) -> list[FeedbackRecord]:
    """Feedback given in ``[start, end)``, oldest first."""
    statement = (
        select(FeedbackRecord)
        .where(col(FeedbackRecord.at) >= start, col(FeedbackRecord.at) < end)
        .order_by(col(FeedbackRecord.at), col(FeedbackRecord.feedback_id))
    )
    return list(session.exec(statement).all())
