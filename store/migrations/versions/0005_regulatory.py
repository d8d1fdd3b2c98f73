"""The regulatory side of the register: each complaint's regulator profile and
outcome, the edges of its return's time bands, and its classification (R9).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:00:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 100
CODE = 40


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_regulatory",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("profile", sa.String(CODE), nullable=False),
        sa.Column("regime", sa.String(CODE), nullable=False),
        sa.Column("taxonomy", sa.String(CODE), nullable=True),
        sa.Column("taxonomy_version", sa.String(CODE), nullable=True),
        sa.Column("outcome", sa.String(CODE), nullable=True),
        sa.Column("replied_at", _utc(), nullable=True),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_case_regulatory_profile", "case_regulatory", ["profile", "replied_at"]
    )
    op.create_table(
        "case_regulatory_bands",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("band", sa.String(CODE), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("deadline", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("case_id", "band"),
    )
    op.create_table(
        "complaint_classifications",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("axis", sa.String(CODE), nullable=False),
        sa.Column("code", sa.String(CODE), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("case_id", "axis"),
    )
    op.create_index(
        "ix_complaint_classifications_axis_code",
        "complaint_classifications",
        ["axis", "code"],
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_classifications_axis_code", table_name="complaint_classifications")
    op.drop_table("complaint_classifications")
    op.drop_table("case_regulatory_bands")
    op.drop_index("ix_case_regulatory_profile", table_name="case_regulatory")
    op.drop_table("case_regulatory")
