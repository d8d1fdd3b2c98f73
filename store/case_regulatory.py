"""The register's regulatory rows of one complaint, written with its projection (R9)."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlmodel import Session

from contracts.case import RegulatoryView
from store.idempotent import table_of
from store.regulatory_tables import (
    CaseRegulatoryBandRow,
    CaseRegulatoryRow,
    ComplaintClassificationRow,
)

REGULATORY = table_of(CaseRegulatoryRow)
BANDS = table_of(CaseRegulatoryBandRow)
CLASSIFICATIONS = table_of(ComplaintClassificationRow)


def replace_case_regulatory(
    session: Session, *, case_id: str, regulatory: RegulatoryView | None
) -> None:
    """Make the case's regulatory rows match its state (none for a case under the
    plan alone).

    A case has its regulatory view from intake, before its first projection, or never
    has one; so a case without one has no rows to delete, and its projection skips
    the three statements.
    """
    if regulatory is None:
        return
    for table in (CLASSIFICATIONS, BANDS, REGULATORY):
        session.exec(delete(table).where(table.c.case_id == case_id))
    session.exec(
        insert(REGULATORY),
        params=[
            {
                "case_id": case_id,
                "profile": regulatory.profile,
                "regime": regulatory.regime,
                "taxonomy": regulatory.taxonomy,
                "taxonomy_version": regulatory.taxonomy_version,
                "outcome": regulatory.outcome.value if regulatory.outcome else None,
                "replied_at": regulatory.replied_at,
                "extensions": len(regulatory.extensions),
            }
        ],
    )
    bands = [
        {"case_id": case_id, "band": band.name, "ordinal": index, "deadline": band.deadline}
        for index, band in enumerate(regulatory.bands)
    ]
    if bands:
        session.exec(insert(BANDS), params=bands)
    codes = [
        {"case_id": case_id, "axis": axis, "code": code}
        for axis, code in sorted(regulatory.classification.items())
    ]
    if codes:
        session.exec(insert(CLASSIFICATIONS), params=codes)
