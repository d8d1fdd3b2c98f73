"""Benchmark: crisis detection under a sustained stream of case events.

``python -m bench.crisis --rate 50 --seconds 120`` starts a Temporal dev server (the
installed ``temporal`` binary, SQLite in WAL mode), a real worker (``worker.build_worker``,
all of the product's workflows and activities) and a fresh SQLite register (or
``--database-url``), then:

1. seeds the trailing weeks with the same hour-of-week traffic, so the background is
   at its baseline and must not fire;
2. writes ``--rate`` case events per second for ``--seconds`` into the register,
   spread round-robin over ``--products`` background products, as the cases'
   projections would (the monitor's only input is the register);
3. from ``--surge-at`` seconds on, one in ten of those events is about a product
   with no history; the rules' ``min_count``-th of them is the tipping case;
4. reports how long after the tipping case's event time the incident workflow
   started (the detection latency), the monitor's evaluation times, and whether any
   background product fired (it must not).

The case workflows are not in this loop (their projection to the register is one
local activity, normally well under a second behind the case; add that to the
figures). Run by hand; not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from codec.converter import case_data_converter
from contracts.crisis import MonitorInput
from settings import Settings, get_settings
from store.db import session_scope
from store.migrate import upgrade_to_head
from store.tables import CaseEventRow, CaseRow
from worker import build_worker
from workflows.crisis_monitor import CrisisMonitorWorkflow, incident_id_for

BIN = Path(sys.executable).parent
SURGE_PRODUCT = "bench_surge_card"


def rules_text(min_count: int) -> str:
    """The shipped rules, with the surge counted per product only and the other rules
    off, so the figures are about one rule's cost."""
    text = resources.files("policy").joinpath("crisis.toml").read_text(encoding="utf-8")
    text = text.replace('scopes = [["category", "channel"], ["product"]]', 'scopes = [["product"]]')
    text = text.replace("min_count = 10", f"min_count = {min_count}")
    head, _, rest = text.partition("[breach_storm]")
    _, _, incident = rest.partition("[incident]")
    return head + "[incident]" + incident


def rows(case_id: str, product: str, at: datetime) -> tuple[CaseRow, CaseEventRow]:
    case = CaseRow(
        case_id=case_id,
        kind="complaint",
        channel="mobile_banking",
        category="card_fees",
        product=product,
        priority="normal",
        customer_id=f"BENCH-{case_id}",
        stage="received",
        opened_at=at,
        opened_by="bench",
        updated_at=at,
    )
    return case, CaseEventRow(case_id=case_id, seq=1, type="opened", at=at, actor="bench")


def write(database_url: str, batch: list[tuple[CaseRow, CaseEventRow]]) -> None:
    with session_scope(database_url, write=True) as session:
        session.add_all([c for c, _ in batch])
        session.flush()
        session.add_all([e for _, e in batch])


def seed_baseline(
    database_url: str, start: datetime, args: argparse.Namespace, products: list[str]
) -> int:
    """The same traffic at the same hour of each trailing week (with room either side)."""
    total = int(args.rate * (args.seconds + 120))
    written = 0
    for week in range(1, 5):
        batch = []
        for i in range(total):
            at = start - timedelta(weeks=week) + timedelta(seconds=i / args.rate - 60)
            product = products[i % len(products)]
            batch.append(rows(f"B{week}-{i}-{uuid.uuid4().hex[:6]}", product, at))
        write(database_url, batch)
        written += len(batch)
    return written


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="crisis-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'cases.db'}"
    rules = workdir / "crisis.toml"
    rules.write_text(rules_text(args.min_count), encoding="utf-8")
    import os

    os.environ.update(
        {"DATABASE_URL": database_url, "CASE_CRISIS_FILE": str(rules), "CASE_ENVIRONMENT": "test"}
    )
    get_settings.cache_clear()
    upgrade_to_head(database_url)
    settings = Settings()
    products = [f"bench_product_{p:03d}" for p in range(args.products)]
    start = datetime.now(UTC)
    print(f"seeding baseline: {seed_baseline(database_url, start, args, products)} events")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=case_data_converter(settings),
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ],
    )
    prefix = f"crisis-bench{uuid.uuid4().hex[:6]}"
    task_queue = f"crisis-bench-{uuid.uuid4()}"
    async with env, build_worker(env.client, settings, task_queue=task_queue):
        monitor = await env.client.start_workflow(
            CrisisMonitorWorkflow.run,
            MonitorInput(id_prefix=prefix),
            id=f"{prefix}-monitor",
            task_queue=task_queue,
        )
        surge_times: list[datetime] = []
        began = time.monotonic()
        sent = 0
        tick = 0.1
        per_tick = args.rate * tick
        owed = 0.0
        while (elapsed := time.monotonic() - began) < args.seconds:
            owed += per_tick
            batch = []
            while owed >= 1:
                owed -= 1
                now = datetime.now(UTC)
                surging = elapsed >= args.surge_at and sent % 10 == 0
                product = SURGE_PRODUCT if surging else products[sent % len(products)]
                if surging:
                    surge_times.append(now)
                batch.append(rows(f"E{sent}-{uuid.uuid4().hex[:6]}", product, now))
                sent += 1
            await asyncio.to_thread(write, database_url, batch)
            await asyncio.sleep(max(0.0, began + (elapsed + tick) - time.monotonic()))
        wall = time.monotonic() - began
        await asyncio.sleep(args.evaluate_grace)
        incident_id = incident_id_for(f"surge:product={SURGE_PRODUCT}", 1, prefix)
        tipping = surge_times[args.min_count - 1] if len(surge_times) >= args.min_count else None
        try:
            described = await env.client.get_workflow_handle(incident_id).describe()
            started = described.start_time
        except Exception:
            started = None
        others = [
            e.id
            async for e in env.client.list_workflows(
                f"WorkflowType = 'CrisisIncidentWorkflow' AND WorkflowId STARTS_WITH '{prefix}'"
            )
            if e.id != incident_id and e.status == WorkflowExecutionStatus.RUNNING
        ]
        durations = await evaluation_seconds(env, monitor.id)
        await monitor.terminate("bench over")
    print(f"events written: {sent} in {wall:.1f} s = {sent / wall:.1f} events/s")
    print(f"surge events: {len(surge_times)}; tipping case at {tipping}")
    if tipping is not None and started is not None:
        print(
            f"incident started at {started}: detection {(started - tipping).total_seconds():.1f} s"
        )
    else:
        print("incident NOT detected")
    print(f"background incidents (must be 0): {len(others)}")
    if durations:
        durations.sort()
        p95 = durations[int(0.95 * (len(durations) - 1))]
        print(
            f"evaluations: {len(durations)}, duration p50 {durations[len(durations) // 2]:.2f} s, "
            f"p95 {p95:.2f} s, max {durations[-1]:.2f} s"
        )


async def evaluation_seconds(env: WorkflowEnvironment, monitor_id: str) -> list[float]:
    """Scheduled-to-completed time of each rules evaluation, from the monitor's history."""
    history = await env.client.get_workflow_handle(monitor_id).fetch_history()
    scheduled: dict[int, datetime] = {}
    out: list[float] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == (
                "evaluate_crisis_rules"
            ):
                scheduled[event.event_id] = event.event_time.ToDatetime(UTC)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            if attrs.scheduled_event_id in scheduled:
                done = event.event_time.ToDatetime(UTC)
                out.append((done - scheduled[attrs.scheduled_event_id]).total_seconds())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="case events per second")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--surge-at", type=float, default=45.0)
    parser.add_argument("--min-count", type=int, default=10)
    parser.add_argument("--evaluate-grace", type=float, default=25.0)
    parser.add_argument("--database-url", default=None)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
