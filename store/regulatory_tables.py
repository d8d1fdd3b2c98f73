"""The register's regulatory side (R9): each complaint's regulator profile, the edges
of its return's time bands (fixed at intake), and its classification.

Projected from the case with the rest of the register, so the periodic returns
(``store.regulatory``) count them in SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlmodel import Field, SQLModel

from store.tables import CODE, ID
from store.types import UTCDateTime


class CaseRegulatoryRow(SQLModel, table=True):
    """A complaint under a regulator profile: its regime, taxonomy and outcome."""

    __tablename__ = "case_regulatory"
    __table_args__ = (Index("ix_case_regulatory_profile", "profile", "replied_at"),)

    case_id: str = Field(sa_type=String(ID), primary_key=True, foreign_key="cases.case_id")
    profile: str = Field(sa_type=String(CODE))
    regime: str = Field(sa_type=String(CODE))
    taxonomy: str | None = Field(default=None, sa_type=String(CODE))
    taxonomy_version: str | None = Field(default=None, sa_type=String(CODE))
    outcome: str | None = Field(default=None, sa_type=String(CODE))
    replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    extensions: int = Field(default=0, sa_type=Integer())


class CaseRegulatoryBandRow(SQLModel, table=True):
    """One band edge of one complaint: closed by ``deadline`` falls in this band."""

    __tablename__ = "case_regulatory_bands"

    case_id: str = Field(sa_type=String(ID), primary_key=True, foreign_key="cases.case_id")
    band: str = Field(sa_type=String(CODE), primary_key=True)
    ordinal: int = Field(sa_type=Integer())
    deadline: datetime = Field(sa_type=UTCDateTime())


class ComplaintClassificationRow(SQLModel, table=True):
    """One axis of a complaint's classification and its code."""

    __tablename__ = "complaint_classifications"
    __table_args__ = (Index("ix_complaint_classifications_axis_code", "axis", "code"),)

    case_id: str = Field(sa_type=String(ID), primary_key=True, foreign_key="cases.case_id")
    axis: str = Field(sa_type=String(CODE), primary_key=True)
    code: str = Field(sa_type=String(CODE))


REGULATORY_TABLES = (CaseRegulatoryRow, CaseRegulatoryBandRow, ComplaintClassificationRow)
