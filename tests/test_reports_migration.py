"""Migration 0003 projects the clocks of cases registered before it (SQLite; the
report figures themselves run on both databases)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from store.db import dispose_engine, get_engine
from store.idempotent import table_of
from store.migrate import alembic_config, upgrade_to_head
from store.report_tables import CaseClockRow
from tests.db_fixtures import sqlite_url

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def at_0001(tmp_path: Path) -> Iterator[str]:
    url = sqlite_url(tmp_path / "old.db")
    with get_engine(url).begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    yield url
    dispose_engine(url)


def test_0003_projects_existing_clocks(at_0001: str) -> None:
    clocks = {
        "first_response": {
            "name": "first_response",
            "status": "breached",
            "started_at": T0.isoformat(),
            "deadline": (T0 + timedelta(minutes=5)).isoformat(),
            "breached_at": (T0 + timedelta(minutes=5)).isoformat(),
            "met_at": (T0 + timedelta(minutes=65)).isoformat(),
        },
        "survey": {
            "name": "survey",
            "status": "running",
            "started_at": T0.isoformat(),
            "deadline": (T0 + timedelta(days=7)).isoformat(),
        },
    }
    with get_engine(at_0001).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cases (case_id, kind, channel, category, priority, customer_id,"
                " stage, opened_at, opened_by, breached, escalation_level, clocks, last_seq,"
                " updated_at) VALUES ('c-1', 'complaint', 'phone', 'cards', 'normal', 'u-1',"
                " 'received', :at, 'x', 1, 0, :clocks, 1, :at)"
            ),
            {"at": T0.replace(tzinfo=None), "clocks": json.dumps(clocks)},
        )
    upgrade_to_head(at_0001)
    table = table_of(CaseClockRow)
    with get_engine(at_0001).connect() as connection:
        rows = {r.clock: r for r in connection.execute(select(table))}
    assert set(rows) == {"first_response", "survey"}
    late = rows["first_response"]
    assert (late.status, late.seconds_to_meet, late.late_seconds) == ("breached", 3900, 3600)
    assert late.started_at == T0
    assert rows["survey"].met_at is None
