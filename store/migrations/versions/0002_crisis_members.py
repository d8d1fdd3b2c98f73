"""Crisis incidents' member cases.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 00:00:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 100


def upgrade() -> None:
    op.create_table(
        "crisis_members",
        sa.Column("incident_id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "case_id"),
    )
    op.create_index("ix_crisis_members_case_id", "crisis_members", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_crisis_members_case_id", table_name="crisis_members")
    op.drop_table("crisis_members")
