"""The register on real SQLite and PostgreSQL: migrations, idempotent projection
writes, and the lists the API serves (R4.1)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, func
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel, select

from contracts.activities import CaseSnapshot
from contracts.case import CaseKind, ClockStatus, ClockView, Priority, Stage, TimelineEvent
from contracts.policy import ClockName
from store.cases import (
    add_case_events,
    department_open_cases,
    get_case_row,
    list_case_events,
    list_cases,
    stored_last_seq,
    to_snapshot,
    upsert_case,
)
from store.db import dispose_engine, get_engine, normalise_database_url, session_scope
from store.idempotent import insert_once
from store.ledger import get_remedy_entry
from store.migrate import current_revision, head_revision, upgrade_to_head
from store.tables import CaseEventRow, CaseRow, RemedyLedgerEntry
from tests.db_fixtures import postgres_admin_url, sqlite_url

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SHANGHAI = timezone(timedelta(hours=8))


def snapshot(case_id: str, **changes: Any) -> CaseSnapshot:
    base: dict[str, Any] = {
        "case_id": case_id,
        "kind": CaseKind.COMPLAINT,
        "channel": "counter",
        "category": "fees",
        "product": "debit_card",
        "priority": Priority.NORMAL,
        "customer_id": "cust-1",
        "stage": Stage.RECEIVED,
        "owner": None,
        "department": None,
        "opened_at": T0,
        "opened_by": "agent-1",
        "closed_at": None,
        "breached": False,
        "escalation_level": 0,
        "next_deadline": T0 + timedelta(minutes=5),
        "policy_version": "2025.1",
        "clocks": {
            ClockName.FIRST_RESPONSE: ClockView(
                name=ClockName.FIRST_RESPONSE,
                status=ClockStatus.RUNNING,
                started_at=T0,
                deadline=T0 + timedelta(minutes=5),
                warn_at=T0 + timedelta(minutes=4),
            )
        },
    }
    base.update(changes)
    return CaseSnapshot.model_validate(base)


def event(seq: int, type_: str = "note_added", **data: Any) -> TimelineEvent:
    return TimelineEvent(
        seq=seq, type=type_, at=T0 + timedelta(minutes=seq), actor="agent-1", data=data
    )


def project(database_url: str, snap: CaseSnapshot, events: list[TimelineEvent]) -> bool:
    with session_scope(database_url, write=True) as session:
        last_seq = max((e.seq for e in events), default=None)
        applied = upsert_case(session, snapshot=snap, last_seq=last_seq)
        add_case_events(session, case_id=snap.case_id, events=events)
    return applied


# --- migrations ------------------------------------------------------------------------


def test_migrated_schema_matches_the_table_models(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
        # The comparison sees real differences: against no models, every table is extra.
        removed = {diff[1].name for diff in compare_metadata(context, MetaData())}
    assert {"cases", "case_events", "remedies_ledger", "feedback_records"} <= removed


def test_upgrade_twice_changes_nothing(database_url: str) -> None:
    upgrade_to_head(database_url)
    assert current_revision(database_url) == head_revision() == "0005"


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database nobody has migrated yet."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "fresh" / "cases.db")
        yield url
        dispose_engine(url)
        return
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"case_test_fresh_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_two_processes_migrating_at_once_both_succeed(unmigrated_url: str) -> None:
    """The worker and the API both migrate at start; neither may trip over the other."""
    code = "import sys; from store.migrate import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, unmigrated_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=60), p.communicate()[1].decode()) for p in processes]
    for returncode, stderr in outcomes:
        assert returncode == 0, stderr
    assert current_revision(unmigrated_url) == head_revision()


def test_postgresql_urls_use_psycopg_3() -> None:
    url = normalise_database_url("postgresql://bank@db.internal:5432/cases")
    assert url.drivername == "postgresql+psycopg"
    assert normalise_database_url("postgres://bank@db/cases").drivername == "postgresql+psycopg"
    assert normalise_database_url("sqlite:///data/cases.db").drivername == "sqlite"


def test_sqlite_creates_its_folder_and_runs_in_wal_mode(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "nested" / "data" / "cases.db")
    try:
        with get_engine(url).connect() as connection:
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert (tmp_path / "nested" / "data" / "cases.db").exists()
        assert (journal, foreign_keys) == ("wal", 1)
        assert isinstance(busy, int)
        assert busy >= 5000
    finally:
        dispose_engine(url)


# --- the case row and its timeline ---------------------------------------------------


def test_times_come_back_aware_in_utc(database_url: str) -> None:
    opened = datetime(2025, 3, 3, 17, 30, tzinfo=SHANGHAI)
    project(database_url, snapshot("C-TZ", opened_at=opened), [event(1)])
    with session_scope(database_url) as session:
        row = get_case_row(session, case_id="C-TZ")
        events = list_case_events(session, case_id="C-TZ")
    assert row is not None
    assert row.opened_at == opened
    assert row.opened_at.utcoffset() == timedelta(0)
    assert row.updated_at.tzinfo is not None
    assert events[0].at.tzinfo is not None
    assert events[0].at == T0 + timedelta(minutes=1)


def test_a_naive_time_is_refused(database_url: str) -> None:
    with (
        pytest.raises(StatementError, match="naive datetime"),
        session_scope(database_url) as session,
    ):
        upsert_case(session, snapshot=snapshot("C-NAIVE", opened_at=datetime(2025, 3, 3, 9)))


def test_the_row_reads_back_as_the_snapshot_written(database_url: str) -> None:
    written = snapshot("C-ROUND", owner="owner-7", department="cards", breached=True)
    project(database_url, written, [event(1)])
    with session_scope(database_url) as session:
        row = get_case_row(session, case_id="C-ROUND")
    assert row is not None
    assert to_snapshot(row) == written


def test_events_written_twice_are_stored_once(database_url: str) -> None:
    snap = snapshot("C-EV")
    project(database_url, snap, [event(1), event(2)])
    project(database_url, snap, [event(1), event(2), event(3, "acknowledged")])
    with session_scope(database_url) as session:
        events = list_case_events(session, case_id="C-EV")
        later = list_case_events(session, case_id="C-EV", after_seq=2)
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.type for e in later] == ["acknowledged"]


def test_a_stale_snapshot_does_not_move_the_case_backwards(database_url: str) -> None:
    received = snapshot("C-STALE")
    transferred = snapshot(
        "C-STALE", stage=Stage.AWAITING_DEPARTMENT_PLAN, department="cards", owner="agent-2"
    )
    assert project(database_url, received, [event(1)])
    assert project(database_url, transferred, [event(2), event(3)])
    # The first projection's activity is retried late, after the newer one landed.
    assert not project(database_url, received, [event(1)])
    with session_scope(database_url) as session:
        row = get_case_row(session, case_id="C-STALE")
        assert stored_last_seq(session, case_id="C-STALE") == 3
    assert row is not None
    assert (row.stage, row.department, row.owner) == (
        "awaiting_department_plan",
        "cards",
        "agent-2",
    )


def test_a_snapshot_at_the_same_position_applies(database_url: str) -> None:
    """A clock warning changes the row without a new event: same sequence, still newer."""
    project(database_url, snapshot("C-SAME"), [event(4)])
    assert project(database_url, snapshot("C-SAME", escalation_level=1), [event(4)])
    # Without events the snapshot cannot be ordered: applied, sequence kept.
    assert project(database_url, snapshot("C-SAME", escalation_level=2), [])
    with session_scope(database_url) as session:
        row = get_case_row(session, case_id="C-SAME")
    assert row is not None
    assert (row.escalation_level, row.last_seq) == (2, 4)


def test_insert_once_reports_whether_it_inserted(database_url: str) -> None:
    def entry(amount: str) -> RemedyLedgerEntry:
        return RemedyLedgerEntry(
            case_id="C-L",
            remedy_id="R-1",
            customer_id="cust-1",
            kind="fee_refund",
            description="refund of the annual fee",
            amount=Decimal(amount),
            currency="CNY",
            status="approved",
            proposed_by="agent-1",
            recorded_at=T0,
        )

    with session_scope(database_url, write=True) as session:
        assert insert_once(session, entry("0.10"))
        assert not insert_once(session, entry("999.99"))
    with session_scope(database_url) as session:
        stored = get_remedy_entry(session, case_id="C-L", remedy_id="R-1")
        count = session.exec(select(func.count()).select_from(RemedyLedgerEntry)).one()
    assert stored is not None
    assert (stored.amount, count) == (Decimal("0.10"), 1)


# --- lists ---------------------------------------------------------------------------


@pytest.fixture
def register(database_url: str) -> str:
    """Seven cases across kinds, channels, stages and departments, one hour apart."""
    cases = [
        snapshot("C1", kind=CaseKind.INQUIRY, channel="phone", stage=Stage.RESOLVED),
        snapshot("C2", channel="phone", owner="owner-a", stage=Stage.INVESTIGATING),
        snapshot(
            "C3",
            stage=Stage.AWAITING_DEPARTMENT_PLAN,
            department="cards",
            next_deadline=T0 + timedelta(days=2),
        ),
        snapshot(
            "C4",
            kind=CaseKind.INQUIRY,
            stage=Stage.AWAITING_DEPARTMENT_RESULT,
            department="cards",
            next_deadline=T0 + timedelta(days=1),
            breached=True,
        ),
        snapshot("C5", stage=Stage.CLOSED, department="cards", closed_at=T0 + timedelta(days=3)),
        snapshot(
            "C6",
            channel="mobile_banking",
            stage=Stage.AWAITING_DEPARTMENT_PLAN,
            department="loans",
            breached=True,
        ),
        snapshot(
            "C7",
            channel="online_banking",
            stage=Stage.AWAITING_DEPARTMENT_PLAN,
            department="cards",
            next_deadline=None,
        ),
    ]
    for hour, snap in enumerate(cases):
        project(database_url, snap.model_copy(update={"opened_at": T0 + timedelta(hours=hour)}), [])
    return database_url


def ids(rows: list[CaseRow]) -> list[str]:
    return [row.case_id for row in rows]


def test_list_cases_filters(register: str) -> None:
    with session_scope(register) as session:
        assert ids(list_cases(session, kind="inquiry")[0]) == ["C4", "C1"]
        assert ids(list_cases(session, channel="phone")[0]) == ["C2", "C1"]
        assert ids(list_cases(session, stage="investigating")[0]) == ["C2"]
        assert ids(list_cases(session, department="cards")[0]) == ["C7", "C5", "C4", "C3"]
        assert ids(list_cases(session, owner="owner-a")[0]) == ["C2"]
        assert ids(list_cases(session, breached=True)[0]) == ["C6", "C4"]
        assert len(list_cases(session, breached=False)[0]) == 5
        assert ids(list_cases(session, open_only=True, department="cards")[0]) == [
            "C7",
            "C4",
            "C3",
        ]
        window = list_cases(
            session, opened_from=T0 + timedelta(hours=2), opened_to=T0 + timedelta(hours=4)
        )
        assert ids(window[0]) == ["C4", "C3"]  # from inclusive, to exclusive
        shanghai = list_cases(session, opened_from=datetime(2025, 3, 3, 21, 0, tzinfo=SHANGHAI))
        assert ids(shanghai[0]) == ["C7", "C6", "C5"]  # 21:00 in Shanghai is 13:00 UTC
        assert list_cases(session, kind="complaint", channel="phone", open_only=True)[1] == 1


def test_list_cases_pages_newest_first_with_the_total(register: str) -> None:
    with session_scope(register) as session:
        first, total = list_cases(session, limit=3)
        second, _ = list_cases(session, limit=3, offset=3)
        last, total_again = list_cases(session, limit=3, offset=6)
        beyond, _ = list_cases(session, limit=3, offset=7)
    assert (ids(first), ids(second), ids(last), beyond) == (
        ["C7", "C6", "C5"],
        ["C4", "C3", "C2"],
        ["C1"],
        [],
    )
    assert total == total_again == 7


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (10, -1)])
def test_list_cases_refuses_a_bad_page(register: str, limit: int, offset: int) -> None:
    with session_scope(register) as session, pytest.raises(ValueError, match=r"^(limit|offset) "):
        list_cases(session, limit=limit, offset=offset)


def test_a_department_queue_holds_its_waiting_cases_nearest_deadline_first(register: str) -> None:
    with session_scope(register) as session:
        cards, total = department_open_cases(session, department="cards", limit=10, offset=0)
        page, _ = department_open_cases(session, department="cards", limit=1, offset=1)
        loans, _ = department_open_cases(session, department="loans", limit=10, offset=0)
    # C5 is closed; C7 has no deadline and comes last.
    assert (ids(cards), total) == (["C4", "C3", "C7"], 3)
    assert ids(page) == ["C3"]
    assert ids(loans) == ["C6"]


def test_events_need_their_case(database_url: str) -> None:
    """The timeline hangs off the case row (a foreign key, enforced on SQLite too)."""
    with (
        pytest.raises(IntegrityError, match=r"(?i)foreign key"),
        session_scope(database_url, write=True) as session,
    ):
        add_case_events(session, case_id="C-NOWHERE", events=[event(1)])
    with session_scope(database_url) as session:
        assert session.exec(select(func.count()).select_from(CaseEventRow)).one() == 0


def test_concurrent_writers_all_get_through(database_url: str) -> None:
    """The worker's activity threads write at once; none may fail with 'database is
    locked' (SQLite) or a duplicate key (two attempts of one projection racing)."""

    def write(worker: int) -> None:
        for step in range(1, 6):
            seq = worker * 10 + step
            project(database_url, snapshot("C-BUSY", escalation_level=seq), [event(seq)])
            project(database_url, snapshot("C-BUSY", escalation_level=seq), [event(seq)])

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, range(6)))
    with session_scope(database_url) as session:
        row = get_case_row(session, case_id="C-BUSY")
        events = list_case_events(session, case_id="C-BUSY")
    assert len(events) == 30
    assert row is not None
    assert (row.last_seq, row.escalation_level) == (55, 55)
