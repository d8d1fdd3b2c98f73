"""The notification outboxes: customer messages and staff alerts.

A row is written before anything is sent, so a message is never lost; it is marked
``sent`` after the adapter took it, so a retried activity never sends it twice. Rows
left ``queued`` (no adapter configured, or delivery still failing) are what a poller
or the operations team picks up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeVar

from sqlmodel import Session, col, select, update

from store.idempotent import insert_once
from store.tables import CustomerNotification, StaffNotification

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
Status = Literal["queued", "sent", "failed"]

Notification = CustomerNotification | StaffNotification


_Row = TypeVar("_Row", CustomerNotification, StaffNotification)


def queue_once(session: Session, row: _Row) -> _Row:
    """Queue ``row`` in its outbox, or return what an earlier attempt queued under its
    id: a retried activity sends what the first attempt stored, not a fresh rendering."""
    if insert_once(session, row):
        return row  # stored exactly as given: no need to read it back
    stored = session.get(type(row), row.notification_id)
    assert stored is not None  # the earlier attempt's row; outbox rows are never deleted
    return stored


def get_customer_notification(
    session: Session, *, notification_id: str
) -> CustomerNotification | None:
    return session.get(CustomerNotification, notification_id)


def get_staff_notification(session: Session, *, notification_id: str) -> StaffNotification | None:
    return session.get(StaffNotification, notification_id)


def mark_sent(
    session: Session,
    *,
    model: type[CustomerNotification] | type[StaffNotification],
    notification_id: str,
    via: str,
    at: datetime,
) -> bool:
    """Mark a queued notification sent; ``False`` if it was already sent."""
    statement = (
        update(model)
        .where(col(model.notification_id) == notification_id, col(model.status) != SENT)
        .values(status=SENT, via=via, sent_at=at)
    )
    return session.exec(statement).rowcount == 1


def mark_failed(
    session: Session,
    *,
    model: type[CustomerNotification] | type[StaffNotification],
    notification_id: str,
    via: str,
) -> bool:
    """Mark a notification the adapter refused for good (it will not be retried)."""
    statement = (
        update(model)
        .where(col(model.notification_id) == notification_id, col(model.status) == QUEUED)
        .values(status=FAILED, via=via)
    )
    return session.exec(statement).rowcount == 1


def queued_customer_notifications(
    session: Session, *, limit: int = 100
) -> list[CustomerNotification]:
    """The oldest customer messages still waiting for delivery."""
    statement = (
        select(CustomerNotification)
        .where(col(CustomerNotification.status) == QUEUED)
        .order_by(col(CustomerNotification.created_at), col(CustomerNotification.notification_id))
        .limit(limit)
    )
    return list(session.exec(statement).all())


def customer_notifications_for_case(
    session: Session, *, case_id: str
) -> list[CustomerNotification]:
    statement = (
        select(CustomerNotification)
        .where(CustomerNotification.case_id == case_id)
        .order_by(col(CustomerNotification.created_at), col(CustomerNotification.notification_id))
    )
    return list(session.exec(statement).all())


def staff_notifications_for_case(session: Session, *, case_id: str) -> list[StaffNotification]:
    statement = (
        select(StaffNotification)
        .where(StaffNotification.case_id == case_id)
        .order_by(col(StaffNotification.created_at), col(StaffNotification.notification_id))
    )
    return list(session.exec(statement).all())
