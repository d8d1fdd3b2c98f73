"""Training sessions and their attendees and categories, staff suggestions, and the
improvement actions' projection.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:00:00+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 100
CODE = 40
NAME = 120
URL = 2000


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trainings",
        sa.Column("training_id", sa.String(ID), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("trainer", sa.String(NAME), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("material_url", sa.String(URL), nullable=True),
        sa.Column("action_id", sa.String(ID), nullable=True),
        sa.Column("recorded_by", sa.String(NAME), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("training_id"),
    )
    op.create_index("ix_trainings_held_on", "trainings", ["held_on"])
    op.create_table(
        "training_attendees",
        sa.Column("training_id", sa.String(ID), nullable=False),
        sa.Column("agent", sa.String(NAME), nullable=False),
        sa.ForeignKeyConstraint(["training_id"], ["trainings.training_id"]),
        sa.PrimaryKeyConstraint("training_id", "agent"),
    )
    op.create_index("ix_training_attendees_agent", "training_attendees", ["agent"])
    op.create_table(
        "training_categories",
        sa.Column("training_id", sa.String(ID), nullable=False),
        sa.Column("category", sa.String(NAME), nullable=False),
        sa.ForeignKeyConstraint(["training_id"], ["trainings.training_id"]),
        sa.PrimaryKeyConstraint("training_id", "category"),
    )
    op.create_table(
        "staff_suggestions",
        sa.Column("suggestion_id", sa.String(ID), nullable=False),
        sa.Column("author", sa.String(NAME), nullable=False),
        sa.Column("role", sa.String(CODE), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(NAME), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("status", sa.String(CODE), nullable=False),
        sa.Column("decided_by", sa.String(NAME), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action_id", sa.String(ID), nullable=True),
        sa.PrimaryKeyConstraint("suggestion_id"),
    )
    op.create_index("ix_staff_suggestions_created_at", "staff_suggestions", ["created_at"])
    op.create_table(
        "improvement_actions",
        sa.Column("action_id", sa.String(ID), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("source", sa.String(CODE), nullable=False),
        sa.Column("source_ref", sa.String(ID), nullable=True),
        sa.Column("owner", sa.String(NAME), nullable=False),
        sa.Column("due", _utc(), nullable=False),
        sa.Column("status", sa.String(CODE), nullable=False),
        sa.Column("measure", sa.String(CODE), nullable=False),
        sa.Column("clock", sa.String(CODE), nullable=True),
        sa.Column("category", sa.String(NAME), nullable=True),
        sa.Column("channel", sa.String(CODE), nullable=True),
        sa.Column("at_least", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(NAME), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.String(NAME), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("policy_file", sa.String(URL), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("action_id"),
    )
    op.create_index("ix_improvement_actions_closed_at", "improvement_actions", ["closed_at"])
    op.create_index("ix_improvement_actions_policy_file", "improvement_actions", ["policy_file"])
    op.create_index(
        "ix_improvement_actions_status_due", "improvement_actions", ["status", "due"]
    )


def downgrade() -> None:
    op.drop_index("ix_improvement_actions_status_due", table_name="improvement_actions")
    op.drop_index("ix_improvement_actions_policy_file", table_name="improvement_actions")
    op.drop_index("ix_improvement_actions_closed_at", table_name="improvement_actions")
    op.drop_table("improvement_actions")
    op.drop_index("ix_staff_suggestions_created_at", table_name="staff_suggestions")
    op.drop_table("staff_suggestions")
    op.drop_table("training_categories")
    op.drop_index("ix_training_attendees_agent", table_name="training_attendees")
    op.drop_table("training_attendees")
    op.drop_index("ix_trainings_held_on", table_name="trainings")
    op.drop_table("trainings")
