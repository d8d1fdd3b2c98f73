"""Tables of staff training, suggestions and improvement actions (R5.1, R6.3, R6.5).

``trainings`` and ``training_attendees`` record each session and who attended, so the
quarterly evaluation can join an attendee's cases before and after it in SQL.
``staff_suggestions`` holds what staff propose and the supervisor's decision.
``improvement_actions`` is the projection of each action's workflow (the workflow
owns the action; the newest ``version`` wins).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from store.tables import CODE, ID, NAME
from store.types import UTCDateTime

URL = 2000


class TrainingRow(SQLModel, table=True):
    """One training session (R5.1): topic, date, trainer, the case categories it
    addresses, the material."""

    __tablename__ = "trainings"

    training_id: str = Field(sa_type=String(ID), primary_key=True)
    topic: str = Field(sa_type=Text())
    held_on: date = Field(sa_type=Date(), index=True)
    trainer: str = Field(sa_type=String(NAME))
    categories: list[str] = Field(default_factory=list, sa_type=JSON())
    material_url: str | None = Field(default=None, sa_type=String(URL))
    action_id: str | None = Field(default=None, sa_type=String(ID))
    recorded_by: str = Field(sa_type=String(NAME))
    recorded_at: datetime = Field(sa_type=UTCDateTime())


class TrainingAttendee(SQLModel, table=True):
    __tablename__ = "training_attendees"

    training_id: str = Field(
        sa_type=String(ID), primary_key=True, foreign_key="trainings.training_id"
    )
    agent: str = Field(sa_type=String(NAME), primary_key=True, index=True)


class TrainingCategory(SQLModel, table=True):
    """The categories a session addresses, one row each, for the effect's join."""

    __tablename__ = "training_categories"

    training_id: str = Field(
        sa_type=String(ID), primary_key=True, foreign_key="trainings.training_id"
    )
    category: str = Field(sa_type=String(NAME), primary_key=True)


class StaffSuggestion(SQLModel, table=True):
    """A staff member's suggestion (R6.5) and the supervisor's decision on it."""

    __tablename__ = "staff_suggestions"
    __table_args__ = (Index("ix_staff_suggestions_created_at", "created_at"),)

    suggestion_id: str = Field(sa_type=String(ID), primary_key=True)
    author: str = Field(sa_type=String(NAME))
    role: str = Field(sa_type=String(CODE))
    title: str = Field(sa_type=String(300))
    text: str = Field(sa_type=Text())
    category: str | None = Field(default=None, sa_type=String(NAME))
    created_at: datetime = Field(sa_type=UTCDateTime())
    status: str = Field(sa_type=String(CODE))
    decided_by: str | None = Field(default=None, sa_type=String(NAME))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    reason: str | None = Field(default=None, sa_type=Text())
    action_id: str | None = Field(default=None, sa_type=String(ID))


class ImprovementActionRow(SQLModel, table=True):
    """An improvement action as its workflow last projected it (R6.3)."""

    __tablename__ = "improvement_actions"
    __table_args__ = (Index("ix_improvement_actions_status_due", "status", "due"),)

    action_id: str = Field(sa_type=String(ID), primary_key=True)
    title: str = Field(sa_type=Text())
    source: str = Field(sa_type=String(CODE))
    source_ref: str | None = Field(default=None, sa_type=String(ID))
    owner: str = Field(sa_type=String(NAME))
    due: datetime = Field(sa_type=UTCDateTime())
    status: str = Field(sa_type=String(CODE))
    measure: str = Field(sa_type=String(CODE))
    clock: str | None = Field(default=None, sa_type=String(CODE))
    category: str | None = Field(default=None, sa_type=String(NAME))
    channel: str | None = Field(default=None, sa_type=String(CODE))
    at_least: float = Field(sa_type=Float())
    created_by: str = Field(sa_type=String(NAME))
    created_at: datetime = Field(sa_type=UTCDateTime())
    escalation_level: int = Field(default=0, sa_type=Integer())
    outcome: str | None = Field(default=None, sa_type=Text())
    closed_by: str | None = Field(default=None, sa_type=String(NAME))
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), index=True)
    # The policy file the action proposes to revise, if any: operations' worklist.
    policy_file: str | None = Field(default=None, sa_type=String(URL), index=True)
    state: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    version: int = Field(default=0, sa_type=Integer())
    updated_at: datetime = Field(sa_type=UTCDateTime())


PEOPLE_TABLES = (
    TrainingRow,
    TrainingAttendee,
    TrainingCategory,
    StaffSuggestion,
    ImprovementActionRow,
)
