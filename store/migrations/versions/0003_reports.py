"""The reports' tables: the register's clocks one row per case and clock, report
revisions, and the supervisors' notes on quarterly findings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00+00:00

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 100
CODE = 40
NAME = 120
BATCH = 1000


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _bind(moment: datetime | None, dialect: str) -> datetime | None:
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if dialect == "sqlite" else moment


def _backfill(table: sa.Table) -> None:
    """Project the clocks of the cases already registered."""
    connection = op.get_bind()
    dialect = connection.dialect.name
    cases = sa.table("cases", sa.column("case_id", sa.String()), sa.column("clocks", sa.JSON()))
    rows: list[dict[str, Any]] = []
    for case_id, clocks in connection.execute(sa.select(cases.c.case_id, cases.c.clocks)):
        for name, clock in (clocks or {}).items():
            started = _instant(clock.get("started_at"))
            if started is None:
                continue
            deadline = _instant(clock.get("deadline"))
            met = _instant(clock.get("met_at"))
            status = str(clock.get("status"))
            to_meet = int((met - started).total_seconds()) if met is not None else None
            late = (
                int((met - deadline).total_seconds())
                if met is not None and deadline is not None and status == "breached"
                else None
            )
            rows.append(
                {
                    "case_id": case_id,
                    "clock": name,
                    "status": status,
                    "started_at": _bind(started, dialect),
                    "deadline": _bind(deadline, dialect),
                    "breached_at": _bind(_instant(clock.get("breached_at")), dialect),
                    "met_at": _bind(met, dialect),
                    "seconds_to_meet": to_meet,
                    "late_seconds": late,
                }
            )
            if len(rows) >= BATCH:
                connection.execute(table.insert(), rows)
                rows = []
    if rows:
        connection.execute(table.insert(), rows)


def upgrade() -> None:
    clocks = op.create_table(
        "case_clocks",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("clock", sa.String(CODE), nullable=False),
        sa.Column("status", sa.String(CODE), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("deadline", _utc(), nullable=True),
        sa.Column("breached_at", _utc(), nullable=True),
        sa.Column("met_at", _utc(), nullable=True),
        sa.Column("seconds_to_meet", sa.Integer(), nullable=True),
        sa.Column("late_seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("case_id", "clock"),
    )
    op.create_index("ix_case_clocks_started_at", "case_clocks", ["started_at"])
    op.create_index("ix_case_clocks_clock_started", "case_clocks", ["clock", "started_at"])
    _backfill(clocks)

    op.create_table(
        "report_revisions",
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("period", sa.String(CODE), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(ID), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "period", "revision"),
        sa.UniqueConstraint("kind", "period", "run_key", name="uq_report_run"),
    )

    op.create_table(
        "report_finding_notes",
        sa.Column("note_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("period", sa.String(CODE), nullable=False),
        sa.Column("finding_id", sa.String(ID), nullable=False),
        sa.Column("author", sa.String(NAME), nullable=False),
        sa.Column("causes", sa.Text(), nullable=False),
        sa.Column("proposals", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("note_id"),
    )
    op.create_index(
        "ix_report_finding_notes_period",
        "report_finding_notes",
        ["kind", "period", "finding_id"],
    )


def downgrade() -> None:
    op.drop_table("report_finding_notes")
    op.drop_table("report_revisions")
    op.drop_index("ix_case_clocks_clock_started", table_name="case_clocks")
    op.drop_index("ix_case_clocks_started_at", table_name="case_clocks")
    op.drop_table("case_clocks")
