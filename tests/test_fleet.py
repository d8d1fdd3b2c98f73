"""A fleet: two worker processes and two API processes share one Temporal dev server and
one PostgreSQL register, and one worker is killed with SIGKILL in the middle of the work.

Everything is the real product, each piece in its own process as in production:
``python worker.py`` twice and ``uvicorn api.main:app`` twice on their own ports, on a
fresh PostgreSQL database that the four processes migrate at once on start. 200
complaints go through both APIs at the same time (each case's steps alternate between
them): open, acknowledge, assign, investigation, final reply, close. The client behaves
as a frontline system should: every request carries an ``Idempotency-Key`` and is
repeated with the same key if the API answers 5xx or does not answer.

What is checked is read straight from the database's tables and from Temporal's
histories, not through the product's own code.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from settings.departments import load_departments
from stack.processes import Child, free_port, spawn, stop_children
from stack.tokens import ensure_dev_codec_key, ensure_dev_tokens, find_token
from tests.db_fixtures import postgres_admin_url

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES = 200
CONCURRENCY = 40
# Kill worker-1 once this many of the 6 x CASES requests have been answered.
KILL_AFTER_REQUESTS = 2 * CASES
READY_TIMEOUT = 60.0
# Activities that were running on the killed worker are retried once their 30 s
# start-to-close timeout passes: the trailing notifications need that long.
SETTLE_TIMEOUT = 90.0
RETRIES = 6
# What a customer is told on this path (REQUIREMENTS R2.2): receipt, acknowledgement,
# the final reply, and the closing message with the survey.
CUSTOMER_TEMPLATES = ["received", "acknowledged", "final_reply", "closed_survey"]
# Every case's register timeline on this path, in order (the clocks met are the first
# response's, then the stage clocks' as each step answers them in time).
TIMELINE = (
    "opened",
    "entered_in_complaint_register",
    "clock_met",
    "acknowledged",
    "owner_assigned",
    "clock_met",
    "investigation_recorded",
    "clock_met",
    "final_reply_sent",
    "closed",
)
_FOREIGN_VARS = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_API_KEY",
    "DATABASE_URL",
    "CASE_API_TOKENS_FILE",
    "CASE_CODEC_KEYS",
    "CASE_POLICY_FILE",
    "CASE_DEPARTMENTS_FILE",
    "CASE_TASK_QUEUE",
    "CASE_WORKER_METRICS_PORT",
)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def fleet_database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (not migrated: the fleet's processes do it)."""
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"case_fleet_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Fleet:
    workers: list[Child]
    apis: list[Child]
    api_urls: list[str]
    tokens: dict[str, str]
    owner: str
    task_queue: str
    children: list[Child] = field(default_factory=list)


@pytest.fixture
async def fleet(
    tmp_path: Path, fleet_database_url: str, dev_env: WorkflowEnvironment
) -> AsyncIterator[Fleet]:
    data = tmp_path / "data"
    data.mkdir()
    dev_tokens = ensure_dev_tokens(data / "tokens.toml", load_departments(None))
    task_queue = f"cases-fleet-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_VARS}
    env.update(
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        TEMPORAL_NAMESPACE="default",
        DATABASE_URL=fleet_database_url,
        CASE_TASK_QUEUE=task_queue,
        CASE_CODEC_KEYS=ensure_dev_codec_key(data / "codec-key"),
        CASE_API_TOKENS_FILE=str(data / "tokens.toml"),
        CASE_ENVIRONMENT="test",
        PYTHONUNBUFFERED="1",
    )
    logs = tmp_path / "logs"
    children: list[Child] = []
    try:
        workers = [
            spawn(
                f"worker-{i}", [sys.executable, "worker.py"], env=env, log_dir=logs, cwd=REPO_ROOT
            )
            for i in (1, 2)
        ]
        children += workers
        ports = [free_port(), free_port()]
        while ports[0] == ports[1]:
            ports[1] = free_port()
        apis = [
            spawn(
                f"api-{i}",
                [
                    *(sys.executable, "-m", "uvicorn", "api.main:app"),
                    *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
                ],
                env=env,
                log_dir=logs,
                cwd=REPO_ROOT,
            )
            for i, port in enumerate(ports, start=1)
        ]
        children += apis
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        await _wait_ready(urls, children)
        tokens = {
            role: find_token(dev_tokens, role) for role in ("frontline", "agent", "supervisor")
        }
        owner = next(t.user for t in dev_tokens if t.role == "agent")
        yield Fleet(workers, apis, urls, tokens, owner, task_queue, children)
    finally:
        stop_children(list(reversed(children)))


async def _wait_ready(urls: list[str], children: list[Child]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    pending = set(urls)
    async with httpx.AsyncClient(timeout=5) as http:
        while pending and time.monotonic() < deadline:
            for child in children:
                if child.exit_code() is not None:
                    pytest.fail(f"{child.describe_exit()}:\n{child.last_lines()}")
            for url in list(pending):
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        pending.discard(url)
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.2)
    assert not pending, "\n".join(c.last_lines() for c in children)


def _complaint(index: int, run: str) -> dict[str, Any]:
    return {
        "kind": "complaint",
        "channel": ("counter", "phone", "online_banking", "mobile_banking")[index % 4],
        "customer": {
            "id": f"FLEET-{run}-{index}",
            "name": "Zhao Lei",
            "phone": "+86 137 0000 0000",
        },
        "category": "card_fee",
        "product": "credit_card",
        "description": f"Fleet complaint {index}: annual fee charged twice.",
    }


def _steps(owner: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("acknowledge", "agent", {"note": "Received, looking into it."}),
        ("assign", "agent", {"owner": owner}),
        ("investigation", "agent", {"findings": "Batch job charged twice.", "upheld": True}),
        ("reply", "agent", {"reply": "We have reversed the fee and fixed the cause."}),
        ("close", "agent", {"reason": "Resolved."}),
    ]


@dataclass
class Drive:
    answered: int = 0
    retried: Counter[str] = field(default_factory=Counter)
    closed: dict[int, dict[str, Any]] = field(default_factory=dict)
    opened: dict[int, str] = field(default_factory=dict)
    killed_at_request: int | None = None
    opened_before_kill: set[str] = field(default_factory=set)


async def test_two_workers_and_two_apis_share_the_work_and_survive_a_killed_worker(
    fleet: Fleet, fleet_database_url: str, dev_env: WorkflowEnvironment
) -> None:
    started = time.monotonic()
    run = uuid.uuid4().hex[:6]
    drive = Drive()
    kill = asyncio.Event()
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    clients = [httpx.AsyncClient(base_url=url, timeout=60, limits=limits) for url in fleet.api_urls]

    async def post(which: int, path: str, role: str, body: dict[str, Any]) -> dict[str, Any]:
        key = uuid.uuid4().hex
        headers = {"Authorization": f"Bearer {fleet.tokens[role]}", "Idempotency-Key": key}
        last = ""
        for attempt in range(RETRIES):
            # A retry goes to the other API, as a load balancer would send it.
            http = clients[(which + attempt) % 2]
            try:
                response = await http.post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                last = repr(exc)
            else:
                if response.status_code < 500:
                    assert response.status_code < 300, f"{path}: {response.text}"
                    drive.answered += 1
                    if drive.answered >= KILL_AFTER_REQUESTS:
                        kill.set()
                    result: dict[str, Any] = response.json()
                    return result
                last = f"{response.status_code} {response.text[:200]}"
            drive.retried[path.rsplit("/", 1)[-1]] += 1
            await asyncio.sleep(0.5)
        raise AssertionError(f"{path} failed {RETRIES} times, last: {last}")

    async def one(index: int) -> None:
        opened = await post(index % 2, "/v1/cases", "frontline", _complaint(index, run))
        case_id = opened["case_id"]
        drive.opened[index] = case_id
        state = opened
        for step_number, (step, role, body) in enumerate(_steps(fleet.owner), start=1):
            state = await post((index + step_number) % 2, f"/v1/cases/{case_id}/{step}", role, body)
        drive.closed[index] = state

    async def killer() -> None:
        await kill.wait()
        drive.killed_at_request = drive.answered
        drive.opened_before_kill = set(drive.opened.values())
        os.kill(fleet.workers[0].pid, signal.SIGKILL)

    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(CASES):
        queue.put_nowait(index)

    async def client_loop() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    kill_task = asyncio.create_task(killer())
    try:
        await asyncio.gather(*(client_loop() for _ in range(CONCURRENCY)))
    finally:
        kill_task.cancel()
        for http in clients:
            await http.aclose()
    driven = time.monotonic() - started

    # The kill happened in the middle, and the killed worker is gone for good.
    assert drive.killed_at_request is not None
    assert KILL_AFTER_REQUESTS <= drive.killed_at_request < 6 * CASES - CONCURRENCY
    assert fleet.workers[0].exit_code() == -signal.SIGKILL
    assert fleet.workers[1].exit_code() is None
    assert all(api.exit_code() is None for api in fleet.apis)

    # Every case answered closed; none lost, none doubled.
    case_ids = [drive.opened[i] for i in range(CASES)]
    assert len(set(case_ids)) == CASES
    assert {state["stage"] for state in drive.closed.values()} == {"closed"}
    assert len(drive.closed) == CASES

    # The register, read straight from PostgreSQL once the trailing activities are done.
    engine = create_engine(fleet_database_url, poolclass=NullPool)
    expected_notifications = CASES * len(CUSTOMER_TEMPLATES)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    try:
        while True:
            with engine.connect() as db:
                notified = db.execute(text("SELECT count(*) FROM customer_notifications")).scalar()
            if notified == expected_notifications or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        with engine.connect() as db:
            cases = db.execute(text("SELECT case_id, stage FROM cases")).all()
            events = db.execute(text("SELECT case_id, seq, type FROM case_events")).all()
            notifications = db.execute(
                text("SELECT notification_id, case_id, template FROM customer_notifications")
            ).all()
    finally:
        engine.dispose()
    settled = time.monotonic() - started

    assert len(cases) == CASES
    assert sorted(case_id for case_id, _ in cases) == sorted(case_ids)
    assert {stage for _, stage in cases} == {"closed"}

    # Every step of every case, in order, numbered without a gap or a repeat.
    timeline: dict[str, list[tuple[int, str]]] = {case_id: [] for case_id in case_ids}
    for case_id, seq, kind in events:
        timeline[case_id].append((seq, kind))
    shapes = Counter(tuple(kind for _, kind in sorted(steps)) for steps in timeline.values())
    assert len(shapes) == 1, shapes
    (shape,) = shapes
    for steps in timeline.values():
        assert sorted(seq for seq, _ in steps) == list(range(1, len(steps) + 1))
    assert shape == TIMELINE, shape

    # Every customer notification once, by its ID: the case, the step, the template.
    assert len(notifications) == expected_notifications
    seqs = {case_id: {seq for seq, _ in steps} for case_id, steps in timeline.items()}
    by_case: dict[str, list[str]] = {case_id: [] for case_id in case_ids}
    for notification_id, case_id, template in notifications:
        prefix, seq, rest = notification_id.rsplit("-", 2)
        assert (prefix, rest) == (case_id, template), notification_id
        assert int(seq) in seqs[case_id], notification_id
        by_case[case_id].append(template)
    assert {case_id: sorted(t) for case_id, t in by_case.items()} == {
        case_id: sorted(CUSTOMER_TEMPLATES) for case_id in case_ids
    }

    # Both workers did work, and the survivor took over cases the killed one had run.
    identities = await _task_identities(dev_env.client, case_ids)
    pids = {str(worker.pid) for worker in fleet.workers}
    by_pid = Counter(identity.split("@")[0] for ids in identities.values() for identity in ids)
    assert set(by_pid) == pids, by_pid
    killed, survivor = (str(worker.pid) for worker in fleet.workers)
    taken_over = [
        case_id
        for case_id in drive.opened_before_kill
        if {killed, survivor} <= {i.split("@")[0] for i in identities[case_id]}
    ]
    assert taken_over, "no case ran on both workers"
    print(
        f"\nfleet: {CASES} cases driven in {driven:.1f} s, settled in {settled:.1f} s; "
        f"worker-1 killed after {drive.killed_at_request} answers; retries {dict(drive.retried)}; "
        f"cases touched per worker pid {dict(by_pid)}; {len(taken_over)} ran on both"
    )


async def _task_identities(client: Client, case_ids: list[str]) -> dict[str, set[str]]:
    """Per case, the identities of the workers that completed its workflow tasks and
    started its activities (Temporal's default identity is ``pid@host``)."""
    semaphore = asyncio.Semaphore(20)

    async def one(case_id: str) -> set[str]:
        async with semaphore:
            history = await client.get_workflow_handle(f"case-{case_id}").fetch_history()
        found: set[str] = set()
        for event in history.events:
            if event.HasField("workflow_task_completed_event_attributes"):
                found.add(event.workflow_task_completed_event_attributes.identity)
            elif event.HasField("activity_task_started_event_attributes"):
                found.add(event.activity_task_started_event_attributes.identity)
        return found

    results = await asyncio.gather(*(one(case_id) for case_id in case_ids))
    return dict(zip(case_ids, results, strict=True))
