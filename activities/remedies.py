"""The remedies ledger (R4.4): each remedy recorded exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.activities import LedgerResult, RemedyRecordInput
from contracts.case import RemedyStatus
from settings import get_settings
from store.db import session_scope
from store.idempotent import insert_once
from store.ledger import get_remedy_entry
from store.tables import RemedyLedgerEntry


@activity.defn(name="record_remedy")
def record_remedy(input: RemedyRecordInput) -> LedgerResult:
    """Enter an approved remedy in the ledger, once per (case, remedy).

    ``recorded`` is False when the remedy was already there (a retry, or a replayed
    decision): nothing changes, and ``amount`` is what the ledger holds. Only approved
    remedies are entered: the ledger is what finance pays out from.
    """
    remedy = input.remedy
    if remedy.status is not RemedyStatus.APPROVED:
        raise ApplicationError(
            f"remedy {remedy.remedy_id} is {remedy.status.value}; only approved remedies "
            "enter the ledger",
            type="RemedyNotApproved",
            non_retryable=True,
        )
    entry = RemedyLedgerEntry(
        case_id=input.case_id,
        remedy_id=remedy.remedy_id,
        customer_id=input.customer_id,
        kind=remedy.kind.value,
        description=remedy.description,
        amount=remedy.amount,
        currency=remedy.currency,
        status=remedy.status.value,
        proposed_by=remedy.proposed_by,
        decided_by=remedy.decided_by,
        decided_at=remedy.decided_at,
        recorded_at=datetime.now(UTC),
    )
    with session_scope(get_settings().database_url, write=True) as session:
        recorded = insert_once(session, entry)
        stored = get_remedy_entry(session, case_id=input.case_id, remedy_id=remedy.remedy_id)
    assert stored is not None
    return LedgerResult(recorded=recorded, amount=stored.amount)
