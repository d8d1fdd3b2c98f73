"""The register's tables (R4.1, R4.4, R7.3): one SQLModel class per table.

Every table that is written by an activity has a natural key (case and sequence,
dispatch id, notification id, remedy id, feedback id) as its primary key: a retried
activity that writes the same thing again hits that key and stores nothing twice.
Enumerations are stored as their string values, so adding a stage or channel needs
no schema change. Schema changes go through ``store/migrations``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from store.types import Money, UTCDateTime

ID = 100
CODE = 40
NAME = 120


class CaseRow(SQLModel, table=True):
    """The case register: one row per case, the projection of its workflow (R4.1)."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_department_stage", "department", "stage"),)

    case_id: str = Field(sa_type=String(ID), primary_key=True)
    kind: str = Field(sa_type=String(CODE), index=True)
    channel: str = Field(sa_type=String(CODE), index=True)
    category: str = Field(sa_type=String(NAME), index=True)
    product: str | None = Field(default=None, sa_type=String(NAME), index=True)
    priority: str = Field(sa_type=String(CODE))
    customer_id: str = Field(sa_type=String(NAME), index=True)
    stage: str = Field(sa_type=String(CODE), index=True)
    owner: str | None = Field(default=None, sa_type=String(NAME), index=True)
    department: str | None = Field(default=None, sa_type=String(NAME))
    opened_at: datetime = Field(sa_type=UTCDateTime(), index=True)
    opened_by: str = Field(sa_type=String(NAME))
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    breached: bool = Field(default=False, index=True)
    escalation_level: int = Field(default=0)
    next_deadline: datetime | None = Field(default=None, sa_type=UTCDateTime(), index=True)
    policy_version: str | None = Field(default=None, sa_type=String(CODE))
    clocks: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())
    # The highest timeline sequence number projected so far: a snapshot that comes
    # with older events is a late retry and must not move the case backwards.
    last_seq: int = Field(default=0)
    updated_at: datetime = Field(sa_type=UTCDateTime())


class CaseEventRow(SQLModel, table=True):
    """The case's timeline: every step with who did it and when (R2.2, R4.1)."""

    __tablename__ = "case_events"

    case_id: str = Field(sa_type=String(ID), primary_key=True, foreign_key="cases.case_id")
    seq: int = Field(sa_type=Integer(), primary_key=True)
    type: str = Field(sa_type=String(CODE))
    at: datetime = Field(sa_type=UTCDateTime(), index=True)
    actor: str = Field(sa_type=String(NAME))
    detail: str | None = Field(default=None, sa_type=Text())
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON())


class DepartmentWorkItem(SQLModel, table=True):
    """A case transferred to a department (R3.4): its queue, read through the API or
    pushed to the department's webhook."""

    __tablename__ = "department_work_items"

    dispatch_id: str = Field(sa_type=String(ID), primary_key=True)
    case_id: str = Field(sa_type=String(ID), index=True)
    department: str = Field(sa_type=String(NAME), index=True)
    kind: str = Field(sa_type=String(CODE))
    category: str = Field(sa_type=String(NAME))
    product: str | None = Field(default=None, sa_type=String(NAME))
    priority: str = Field(sa_type=String(CODE))
    description: str = Field(sa_type=Text())
    reason: str = Field(sa_type=Text())
    requested_by: str = Field(sa_type=String(NAME))
    requested_at: datetime = Field(sa_type=UTCDateTime())
    # "register" while it waits in the queue; "http" once the webhook accepted it.
    delivered_via: str = Field(default="register", sa_type=String(CODE))
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class CustomerNotification(SQLModel, table=True):
    """The customer outbox (R2.2, R3.7): each message once, rendered in the customer's
    language; ``queued`` rows wait for a poller, ``sent`` rows are never sent again."""

    __tablename__ = "customer_notifications"

    notification_id: str = Field(sa_type=String(ID), primary_key=True)
    case_id: str = Field(sa_type=String(ID), index=True)
    customer_id: str = Field(sa_type=String(NAME))
    template: str = Field(sa_type=String(CODE))
    channel: str = Field(sa_type=String(8))
    recipient: str = Field(sa_type=String(320))
    language: str = Field(sa_type=String(8))
    subject: str = Field(sa_type=String(300))
    body: str = Field(sa_type=Text())
    status: str = Field(default="queued", sa_type=String(8), index=True)
    via: str | None = Field(default=None, sa_type=String(CODE))
    created_at: datetime = Field(sa_type=UTCDateTime())
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class StaffNotification(SQLModel, table=True):
    """Warnings, breaches and escalations to the responsible person or role (R2.1)."""

    __tablename__ = "staff_notifications"

    notification_id: str = Field(sa_type=String(ID), primary_key=True)
    case_id: str = Field(sa_type=String(ID), index=True)
    kind: str = Field(sa_type=String(CODE))
    clock: str | None = Field(default=None, sa_type=String(CODE))
    recipient_role: str = Field(sa_type=String(NAME))
    recipient_user: str | None = Field(default=None, sa_type=String(NAME))
    department: str | None = Field(default=None, sa_type=String(NAME))
    level: int = Field(default=0)
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime())
    message: str = Field(sa_type=Text())
    status: str = Field(default="queued", sa_type=String(8), index=True)
    via: str | None = Field(default=None, sa_type=String(CODE))
    created_at: datetime = Field(sa_type=UTCDateTime())
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class RemedyLedgerEntry(SQLModel, table=True):
    """The remedies ledger (R4.4): compensation, refunds and discounts, each once."""

    __tablename__ = "remedies_ledger"

    case_id: str = Field(sa_type=String(ID), primary_key=True)
    remedy_id: str = Field(sa_type=String(ID), primary_key=True)
    customer_id: str = Field(sa_type=String(NAME), index=True)
    kind: str = Field(sa_type=String(CODE))
    description: str = Field(sa_type=Text())
    amount: Decimal | None = Field(default=None, sa_type=Money())
    currency: str = Field(sa_type=String(3))
    status: str = Field(sa_type=String(CODE))
    proposed_by: str = Field(sa_type=String(NAME))
    decided_by: str | None = Field(default=None, sa_type=String(NAME))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    recorded_at: datetime = Field(sa_type=UTCDateTime(), index=True)


class FeedbackRecord(SQLModel, table=True):
    """The feedback record table (R6.1, R7.3): each customer's score and comment,
    with the case's owner, so the monthly analysis can close the loop."""

    __tablename__ = "feedback_records"

    feedback_id: str = Field(sa_type=String(ID), primary_key=True)
    case_id: str = Field(sa_type=String(ID), index=True)
    kind: str = Field(sa_type=String(CODE))
    channel: str = Field(sa_type=String(CODE), index=True)
    category: str = Field(sa_type=String(NAME))
    owner: str | None = Field(default=None, sa_type=String(NAME), index=True)
    score: int
    comment: str | None = Field(default=None, sa_type=Text())
    at: datetime = Field(sa_type=UTCDateTime(), index=True)


class CrisisMember(SQLModel, table=True):
    """A case linked to a crisis incident (R8): the incident workflow's member list,
    projected, so detection skips cases already linked and the review counts impact."""

    __tablename__ = "crisis_members"

    incident_id: str = Field(sa_type=String(ID), primary_key=True)
    case_id: str = Field(sa_type=String(ID), primary_key=True, index=True)
    joined_at: datetime = Field(sa_type=UTCDateTime())


REGISTER_TABLES = (
    CaseRow,
    CaseEventRow,
    DepartmentWorkItem,
    CustomerNotification,
    StaffNotification,
    RemedyLedgerEntry,
    FeedbackRecord,
    CrisisMember,
)
