"""The register's first schema: cases, their timeline, department work items,
customer and staff notifications, the remedies ledger and the feedback record table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00

"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 100
CODE = 40
NAME = 120


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _money() -> sa.Numeric[Decimal]:
    # Exact text on SQLite (no decimal type there), NUMERIC elsewhere.
    return sa.Numeric(14, 2).with_variant(sa.String(18), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("channel", sa.String(CODE), nullable=False),
        sa.Column("category", sa.String(NAME), nullable=False),
        sa.Column("product", sa.String(NAME), nullable=True),
        sa.Column("priority", sa.String(CODE), nullable=False),
        sa.Column("customer_id", sa.String(NAME), nullable=False),
        sa.Column("stage", sa.String(CODE), nullable=False),
        sa.Column("owner", sa.String(NAME), nullable=True),
        sa.Column("department", sa.String(NAME), nullable=True),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("opened_by", sa.String(NAME), nullable=False),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("next_deadline", _utc(), nullable=True),
        sa.Column("policy_version", sa.String(CODE), nullable=True),
        sa.Column("clocks", sa.JSON(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    for column in (
        "kind",
        "channel",
        "category",
        "product",
        "customer_id",
        "stage",
        "owner",
        "opened_at",
        "breached",
        "next_deadline",
    ):
        op.create_index(f"ix_cases_{column}", "cases", [column])
    op.create_index("ix_cases_department_stage", "cases", ["department", "stage"])

    op.create_table(
        "case_events",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(CODE), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(NAME), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"]),
        sa.PrimaryKeyConstraint("case_id", "seq"),
    )
    op.create_index("ix_case_events_at", "case_events", ["at"])

    op.create_table(
        "department_work_items",
        sa.Column("dispatch_id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("department", sa.String(NAME), nullable=False),
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("category", sa.String(NAME), nullable=False),
        sa.Column("product", sa.String(NAME), nullable=True),
        sa.Column("priority", sa.String(CODE), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(NAME), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("delivered_via", sa.String(CODE), nullable=False),
        sa.Column("delivered_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("dispatch_id"),
    )
    op.create_index(
        "ix_department_work_items_case_id", "department_work_items", ["case_id"]
    )
    op.create_index(
        "ix_department_work_items_department", "department_work_items", ["department"]
    )

    op.create_table(
        "customer_notifications",
        sa.Column("notification_id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("customer_id", sa.String(NAME), nullable=False),
        sa.Column("template", sa.String(CODE), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("via", sa.String(CODE), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    op.create_index(
        "ix_customer_notifications_case_id", "customer_notifications", ["case_id"]
    )
    op.create_index(
        "ix_customer_notifications_status", "customer_notifications", ["status"]
    )

    op.create_table(
        "staff_notifications",
        sa.Column("notification_id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("clock", sa.String(CODE), nullable=True),
        sa.Column("recipient_role", sa.String(NAME), nullable=False),
        sa.Column("recipient_user", sa.String(NAME), nullable=True),
        sa.Column("department", sa.String(NAME), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("deadline", _utc(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("via", sa.String(CODE), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    op.create_index("ix_staff_notifications_case_id", "staff_notifications", ["case_id"])
    op.create_index("ix_staff_notifications_status", "staff_notifications", ["status"])

    op.create_table(
        "remedies_ledger",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("remedy_id", sa.String(ID), nullable=False),
        sa.Column("customer_id", sa.String(NAME), nullable=False),
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount", _money(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(CODE), nullable=False),
        sa.Column("proposed_by", sa.String(NAME), nullable=False),
        sa.Column("decided_by", sa.String(NAME), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "remedy_id"),
    )
    op.create_index("ix_remedies_ledger_customer_id", "remedies_ledger", ["customer_id"])
    op.create_index("ix_remedies_ledger_recorded_at", "remedies_ledger", ["recorded_at"])

    op.create_table(
        "feedback_records",
        sa.Column("feedback_id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(CODE), nullable=False),
        sa.Column("channel", sa.String(CODE), nullable=False),
        sa.Column("category", sa.String(NAME), nullable=False),
        sa.Column("owner", sa.String(NAME), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("feedback_id"),
    )
    for column in ("case_id", "channel", "owner", "at"):
        op.create_index(f"ix_feedback_records_{column}", "feedback_records", [column])


def downgrade() -> None:
    for table in (
        "feedback_records",
        "remedies_ledger",
        "staff_notifications",
        "customer_notifications",
        "department_work_items",
        "case_events",
        "cases",
    ):
        op.drop_table(table)
