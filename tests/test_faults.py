"""Faults survived: the worker killed with SIGKILL while effects are queued and while
updates are in flight, and the Temporal dev server killed and restarted on its
database file.

Everything is the real product in its own processes: the dev server
(``temporal server start-dev --db-filename``), ``python worker.py`` with a SQLite
register, and this test as the frontline system, opening cases with update-with-start
and acting with keyed updates exactly as the API does. What is checked is read straight
from the register's tables.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from temporalio.client import Client

from api import engine
from codec.converter import connect_client
from codec.keys import generate_dev_key
from contracts.actions import AcknowledgeInput, ActionName
from contracts.case import CaseKind, CaseOpenInput, Customer
from settings import Settings
from stack.processes import Child, free_port, spawn, stop_children
from stack.search_attributes import DEV_SERVER_ARGS
from store.migrate import upgrade_to_head
from tests.conftest import binary
from tests.db_fixtures import sqlite_url

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES = 6
# Inquiries whose first response is due in 20 s: the clock must still fire after the
# faults, and the staff breach alert must be sent once.
FIRST_RESPONSE = "PT20S"
BREACH_ALERTS = "SELECT case_id FROM staff_notifications WHERE kind = 'breach'"
pytestmark = pytest.mark.timeout(300)


@dataclass
class Plant:
    """The processes under test and how to reach them."""

    tmp: Path
    env: dict[str, str]
    settings: Settings
    temporal_port: int
    database_url: str
    server: Child
    worker: Child
    client: Client

    def start_server(self) -> Child:
        argv = [
            binary("temporal"),
            *("server", "start-dev", "--headless", "--ip", "127.0.0.1"),
            *("--port", str(self.temporal_port), "--ui-port", str(free_port())),
            *("--db-filename", str(self.tmp / "temporal.db")),
            *DEV_SERVER_ARGS,
        ]
        return spawn("temporal", argv, env=self.env, log_dir=self.tmp / "logs")

    def start_worker(self) -> Child:
        return spawn(
            "worker",
            [sys.executable, "worker.py"],
            env=self.env,
            log_dir=self.tmp / "logs",
            cwd=REPO_ROOT,
        )

    def rows(self, sql: str) -> list[Any]:
        db = create_engine(self.database_url, poolclass=NullPool)
        try:
            with db.connect() as connection:
                return list(connection.execute(text(sql)).all())
        finally:
            db.dispose()


async def _connect(settings: Settings, address: str) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await connect_client(settings, target_host=address)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


@pytest.fixture
async def plant(tmp_path: Path) -> AsyncIterator[Plant]:
    policy = (REPO_ROOT / "policy" / "default.toml").read_text(encoding="utf-8")
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(
        policy.replace('first_response = "PT5M"', f'first_response = "{FIRST_RESPONSE}"')
    )
    database_url = sqlite_url(tmp_path / "cases.db")
    upgrade_to_head(database_url)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TEMPORAL_") and not k.startswith("CASE_") and k != "DATABASE_URL"
    }
    env.update(
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        DATABASE_URL=database_url,
        CASE_TASK_QUEUE=f"faults-{uuid.uuid4().hex[:8]}",
        CASE_POLICY_FILE=str(policy_file),
        CASE_CODEC_KEYS=generate_dev_key(),
        CASE_ENVIRONMENT="test",
        PYTHONUNBUFFERED="1",
    )
    settings = Settings.model_validate(env)
    plant = Plant(tmp_path, env, settings, port, database_url, None, None, None)  # type: ignore[arg-type]
    plant.server = plant.start_server()
    try:
        plant.client = await _connect(settings, env["TEMPORAL_ADDRESS"])
        plant.worker = plant.start_worker()
        yield plant
    finally:
        stop_children([c for c in (plant.worker, plant.server) if c is not None])


def inquiry(n: int) -> CaseOpenInput:
    return CaseOpenInput(
        case_id="",
        kind=CaseKind.INQUIRY,
        channel="phone",
        customer=Customer(id=f"F-{n}", name="Sun Li", phone="+86 136 0000 0000"),
        category="card_fee",
        description="Why was I charged twice?",
        opened_by="faults-test",
    )


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def kill(child: Child) -> None:
    child.signal_group(signal.SIGKILL)
    child.process.wait(timeout=10)


async def test_worker_and_server_killed_nothing_lost_or_doubled(plant: Plant) -> None:
    queue = plant.env["CASE_TASK_QUEUE"]
    keys = [f"fault-{uuid.uuid4().hex[:6]}-{n}" for n in range(CASES)]
    opened = [
        await engine.open_case(plant.client, task_queue=queue, intake=inquiry(n), idempotency_key=k)
        for n, k in enumerate(keys)
    ]
    case_ids = [state.case_id for state, _ in opened]

    # 1. Killed while the cases' "received" notifications and register rows are queued.
    kill(plant.worker)
    plant.worker = plant.start_worker()

    # 2. Killed while acknowledgements are in flight; the frontline system retries each
    #    with its own key (the update ID), as the API does for an Idempotency-Key.
    async def acknowledge(case_id: str) -> None:
        for _ in range(20):
            try:
                await engine.apply_action(
                    plant.client,
                    case_id,
                    ActionName.ACKNOWLEDGE,
                    AcknowledgeInput(actor="li.na"),
                    update_id=f"acknowledge:li.na:{case_id}",
                )
                return
            except Exception:
                await asyncio.sleep(1)
        pytest.fail(f"{case_id} was never acknowledged")

    first_half = case_ids[: CASES // 2]
    in_flight = [asyncio.create_task(acknowledge(case_id)) for case_id in first_half]
    await asyncio.sleep(0.3)
    kill(plant.worker)
    plant.worker = plant.start_worker()
    await asyncio.gather(*in_flight)

    # 3. The dev server killed and started again on its database file.
    kill(plant.server)
    plant.server = plant.start_server()
    plant.client = await _connect(plant.settings, plant.env["TEMPORAL_ADDRESS"])

    # The other half stay unacknowledged: their first-response clocks must still fire.
    # A delivery that was running on the killed worker is retried once its 30 s
    # start-to-close timeout has passed.
    late = case_ids[CASES // 2 :]

    def settled() -> bool:
        events = Counter(
            (row[0], row[1]) for row in plant.rows("SELECT case_id, type FROM case_events")
        )
        sent = Counter(
            (row[0], row[1])
            for row in plant.rows("SELECT case_id, template FROM customer_notifications")
        )
        alerts = {row[0] for row in plant.rows(BREACH_ALERTS)}
        return (
            all(events[(c, "acknowledged")] == 1 for c in first_half)
            and all(sent[(c, "acknowledged")] == 1 for c in first_half)
            and all(sent[(c, "received")] == 1 for c in case_ids)
            and all(events[(c, "clock_breached")] == 1 for c in late)
            and set(late) <= alerts
        )

    await eventually(settled, "the register, the outbox and the breach alerts", within=150)

    notifications = plant.rows(
        "SELECT notification_id, case_id, template FROM customer_notifications"
    )
    ids = [row[0] for row in notifications]
    assert len(ids) == len(set(ids)), "a notification was stored twice"
    templates = Counter((row[1], row[2]) for row in notifications)
    for case_id in case_ids:
        assert templates[(case_id, "received")] == 1
    for case_id in first_half:
        assert templates[(case_id, "acknowledged")] == 1
    register = {row[0] for row in plant.rows("SELECT case_id FROM cases")}
    assert register == set(case_ids)
    timeline = plant.rows("SELECT case_id, seq FROM case_events ORDER BY case_id, seq")
    for case_id in case_ids:
        seqs = [seq for cid, seq in timeline if cid == case_id]
        assert seqs == list(range(1, len(seqs) + 1)), f"{case_id}: a gap in the timeline"
    breaches = Counter(row[0] for row in plant.rows(BREACH_ALERTS))
    for case_id in case_ids[CASES // 2 :]:
        assert breaches[case_id] == 1, f"{case_id}: the breach alert was not sent exactly once"
