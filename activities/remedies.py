"""The remedies ledger (R4.4): each remedy recorded exactly once."""

from __future__ import annotations

from temporalio import activity

from activities.models import LedgerResult, RemedyRecordInput


@activity.defn(name="record_remedy")
def record_remedy(input: RemedyRecordInput) -> LedgerResult:
    raise NotImplementedError
