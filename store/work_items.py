"""Department work items (R3.4): what was transferred to which department, and how it
reached them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select, update

from store.tables import DepartmentWorkItem


def get_work_item(session: Session, *, dispatch_id: str) -> DepartmentWorkItem | None:
    return session.get(DepartmentWorkItem, dispatch_id)


def mark_delivered(session: Session, *, dispatch_id: str, via: str, at: datetime) -> bool:
    """Record that the department's system took the item; ``False`` if it already had."""
    statement = (
        update(DepartmentWorkItem)
        .where(
            col(DepartmentWorkItem.dispatch_id) == dispatch_id,
            col(DepartmentWorkItem.delivered_at).is_(None),
        )
        .values(delivered_via=via, delivered_at=at)
    )
    return session.exec(statement).rowcount == 1


def work_items_for_case(session: Session, *, case_id: str) -> list[DepartmentWorkItem]:
    statement = (
        select(DepartmentWorkItem)
        .where(DepartmentWorkItem.case_id == case_id)
        .order_by(col(DepartmentWorkItem.requested_at), col(DepartmentWorkItem.dispatch_id))
    )
    return list(session.exec(statement).all())
