"""The remedies ledger (R4.4): every compensation, refund or discount, once."""

from __future__ import annotations

from sqlmodel import Session, col, select

from store.tables import RemedyLedgerEntry


def get_remedy_entry(session: Session, *, case_id: str, remedy_id: str) -> RemedyLedgerEntry | None:
    return session.get(RemedyLedgerEntry, (case_id, remedy_id))


def remedies_for_case(session: Session, *, case_id: str) -> list[RemedyLedgerEntry]:
    statement = (
        select(RemedyLedgerEntry)
        .where(RemedyLedgerEntry.case_id == case_id)
        .order_by(col(RemedyLedgerEntry.recorded_at), col(RemedyLedgerEntry.remedy_id))
    )
    return list(session.exec(statement).all())
