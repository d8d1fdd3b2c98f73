"""The feedback record table as the service-quality team reads it (R7.3): each
feedback with its case, what was done (the final reply, the remedies) and the
outcome, filtered in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, Numeric, and_, cast, exists, func, select
from sqlmodel import Session

from store.idempotent import table_of
from store.tables import CaseEventRow, CaseRow, FeedbackRecord, RemedyLedgerEntry

CASES = table_of(CaseRow)
EVENTS = table_of(CaseEventRow)
FEEDBACK = table_of(FeedbackRecord)
REMEDIES = table_of(RemedyLedgerEntry)
SYSTEM_ACTORS = ("system",)


@dataclass(frozen=True)
class FeedbackFilter:
    start: datetime | None = None
    end: datetime | None = None
    category: str | None = None
    channel: str | None = None
    score: int | None = None
    handled: bool | None = None


@dataclass(frozen=True)
class FeedbackLine:
    feedback_id: str
    at: datetime
    case_id: str
    kind: str
    channel: str
    category: str
    product: str | None
    department: str | None
    owner: str | None
    score: int
    comment: str | None
    final_reply: str | None
    remedies: int
    remedies_amount: Decimal
    stage: str | None
    reopened: bool
    handled: bool


def _handled() -> ColumnElement[bool]:
    """Someone acted on the case after the feedback (a note, a reopen, a remedy...)."""
    return exists(
        select(EVENTS.c.seq).where(
            EVENTS.c.case_id == FEEDBACK.c.case_id,
            EVENTS.c.at > FEEDBACK.c.at,
            EVENTS.c.actor.not_in(SYSTEM_ACTORS),
            EVENTS.c.type != "feedback_received",
        )
    )


def _conditions(f: FeedbackFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.start is not None:
        conditions.append(FEEDBACK.c.at >= f.start)
    if f.end is not None:
        conditions.append(FEEDBACK.c.at < f.end)
    if f.category is not None:
        conditions.append(FEEDBACK.c.category == f.category)
    if f.channel is not None:
        conditions.append(FEEDBACK.c.channel == f.channel)
    if f.score is not None:
        conditions.append(FEEDBACK.c.score == f.score)
    if f.handled is not None:
        conditions.append(_handled() if f.handled else ~_handled())
    return conditions


def _statement(f: FeedbackFilter) -> Any:
    final_reply = (
        select(EVENTS.c.detail)
        .where(EVENTS.c.case_id == FEEDBACK.c.case_id, EVENTS.c.type == "final_reply_sent")
        .order_by(EVENTS.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    cents = cast(func.round(cast(REMEDIES.c.amount, Numeric(14, 2)) * 100), Integer)
    remedy_count = (
        select(func.count()).where(REMEDIES.c.case_id == FEEDBACK.c.case_id).scalar_subquery()
    )
    remedy_cents = (
        select(func.coalesce(func.sum(cents), 0))
        .where(REMEDIES.c.case_id == FEEDBACK.c.case_id)
        .scalar_subquery()
    )
    reopened = exists(
        select(EVENTS.c.seq).where(
            and_(EVENTS.c.case_id == FEEDBACK.c.case_id, EVENTS.c.type == "reopened")
        )
    )
    return (
        select(
            FEEDBACK.c.feedback_id,
            FEEDBACK.c.at,
            FEEDBACK.c.case_id,
            FEEDBACK.c.kind,
            FEEDBACK.c.channel,
            FEEDBACK.c.category,
            CASES.c.product,
            CASES.c.department,
            FEEDBACK.c.owner,
            FEEDBACK.c.score,
            FEEDBACK.c.comment,
            final_reply.label("final_reply"),
            remedy_count.label("remedies"),
            remedy_cents.label("remedy_cents"),
            CASES.c.stage,
            reopened.label("reopened"),
            _handled().label("handled"),
        )
        .select_from(FEEDBACK.outerjoin(CASES, CASES.c.case_id == FEEDBACK.c.case_id))
        .where(*_conditions(f))
        .order_by(FEEDBACK.c.at.desc(), FEEDBACK.c.feedback_id)
    )


def _line(row: Any) -> FeedbackLine:
    at = row.at
    return FeedbackLine(
        feedback_id=row.feedback_id,
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        case_id=row.case_id,
        kind=row.kind,
        channel=row.channel,
        category=row.category,
        product=row.product,
        department=row.department,
        owner=row.owner,
        score=row.score,
        comment=row.comment,
        final_reply=row.final_reply,
        remedies=int(row.remedies),
        remedies_amount=(Decimal(int(row.remedy_cents)) / 100).quantize(Decimal("0.01")),
        stage=row.stage,
        reopened=bool(row.reopened),
        handled=bool(row.handled),
    )


def feedback_table(
    session: Session, f: FeedbackFilter, *, limit: int, offset: int
) -> tuple[list[FeedbackLine], int]:
    total = session.execute(
        select(func.count()).select_from(FEEDBACK).where(*_conditions(f))
    ).scalar_one()
    rows = session.execute(_statement(f).limit(limit).offset(offset)).all()
    return [_line(r) for r in rows], total


def iter_feedback(
    session: Session, f: FeedbackFilter, *, batch: int = 1000
) -> Iterator[FeedbackLine]:
    """Every matching line, fetched in batches (the CSV export)."""
    result = session.execute(_statement(f).execution_options(yield_per=batch))
    for row in result:
        yield _line(row)
