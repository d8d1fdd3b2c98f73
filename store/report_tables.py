"""Tables the reports read and write (R6.2, R6.4).

``case_clocks`` is the register's clocks one row per case and clock (the
``cases.clocks`` JSON normalised), so the monthly analysis can count and rank them in
SQL. ``report_revisions`` keeps every run of a report: a re-run adds a revision and
never changes one a meeting already read. ``report_finding_notes`` holds the
supervisors' written causes and proposals on a quarterly finding.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.tables import CODE, ID, NAME
from store.types import UTCDateTime


class CaseClockRow(SQLModel, table=True):
    """One clock of one case as the last projection saw it."""

    __tablename__ = "case_clocks"
    __table_args__ = (Index("ix_case_clocks_clock_started", "clock", "started_at"),)

    case_id: str = Field(sa_type=String(ID), primary_key=True, foreign_key="cases.case_id")
    clock: str = Field(sa_type=String(CODE), primary_key=True)
    status: str = Field(sa_type=String(CODE))
    started_at: datetime = Field(sa_type=UTCDateTime(), index=True)
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime())
    breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    met_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # Whole seconds from start to met, and from deadline to met for a late one:
    # computed when projected, so percentiles need no dialect's date arithmetic.
    seconds_to_meet: int | None = Field(default=None, sa_type=Integer())
    late_seconds: int | None = Field(default=None, sa_type=Integer())


class ReportRevision(SQLModel, table=True):
    """One stored run of a report; ``run_key`` makes a retried store a no-op."""

    __tablename__ = "report_revisions"
    __table_args__ = (UniqueConstraint("kind", "period", "run_key", name="uq_report_run"),)

    kind: str = Field(sa_type=String(CODE), primary_key=True)
    period: str = Field(sa_type=String(CODE), primary_key=True)
    revision: int = Field(sa_type=Integer(), primary_key=True)
    run_key: str = Field(sa_type=String(ID))
    created_at: datetime = Field(sa_type=UTCDateTime())
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())


class FindingNote(SQLModel, table=True):
    """A supervisor's causes and proposals on a quarterly finding (R6.4)."""

    __tablename__ = "report_finding_notes"
    __table_args__ = (Index("ix_report_finding_notes_period", "kind", "period", "finding_id"),)

    note_id: str = Field(sa_type=String(ID), primary_key=True)
    kind: str = Field(sa_type=String(CODE))
    period: str = Field(sa_type=String(CODE))
    finding_id: str = Field(sa_type=String(ID))
    author: str = Field(sa_type=String(NAME))
    causes: str = Field(sa_type=Text())
    proposals: str = Field(sa_type=Text())
    created_at: datetime = Field(sa_type=UTCDateTime())
