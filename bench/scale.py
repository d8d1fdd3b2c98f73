"""Benchmark: many open cases on one worker, and whether a deadline among them holds.

``python -m bench.scale --cases 50000 --max-cached 10000`` starts its own stack
(``make run``'s pieces, in a temporary data directory on free ports, one worker whose
cache holds ``--max-cached`` cases: ``CASE_WORKER_CACHED_WORKFLOWS``), then opens
``--cases`` inquiries through the SDK with the API's own workflow input
(``api.engine.open_case``), ``--batch`` at a time, and leaves them all open. Their
first-response clock is a month (a policy override), so none fires during the run and
each holds one durable timer, as a case waiting for its handler does.

After every ``--sample-every`` cases it records the worker's resident memory
(``VmRSS`` and its peak ``VmHWM`` from ``/proc/<pid>/status``), the open rate and the
dev server's database size. One case, opened when ``--urgent-at`` of them are open, is
an urgent inquiry on a ``--urgent-clock`` seconds clock: its staff breach alert's time
in the outbox minus its deadline shows whether a deadline holds among that many open
cases. Run by hand; not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cases import child_pids, run_bench
from bench.intake import (
    BreachSeen,
    Engine,
    connect,
    first_response_breaches,
    inquiry,
    open_inquiry,
    policy_stack,
)
from contracts.case import Priority
from contracts.policy import ClockName
from stack.run import StackConfig

MB = 1024 * 1024
ON_TIME_SECONDS = 1.0  # the lateness bench's limit for a deadline alert


def clock_override(urgent_seconds: int) -> str:
    """Normal inquiries wait a month for their first response (nothing fires during the
    run); an urgent one has seconds, and escalates an hour later."""
    return f"""
[[overrides]]
kind = "inquiry"
clocks = {{ first_response = "P30D" }}

[[overrides]]
kind = "inquiry"
priority = "urgent"
clocks = {{ first_response = "PT{urgent_seconds}S" }}
escalation = {{ interval = "PT1H" }}
"""


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of a process in kB; empty off Linux."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


def database_bytes(config: StackConfig) -> int:
    """The dev server's SQLite file with its write-ahead log."""
    path = config.temporal_db_file
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


@dataclass
class Sample:
    cases: int
    seconds: float
    open_rate: float  # cases/s since the previous sample
    rss_mb: float
    peak_rss_mb: float
    temporal_db_mb: float


def _sample(
    opened: int, began: float, last: tuple[int, float], pid: int, config: StackConfig
) -> Sample:
    now = time.monotonic()
    memory = memory_kb(pid)
    return Sample(
        cases=opened,
        seconds=round(now - began, 1),
        open_rate=round((opened - last[0]) / max(now - last[1], 1e-9), 2),
        rss_mb=round(memory.get("VmRSS", 0) / 1024, 1),
        peak_rss_mb=round(memory.get("VmHWM", 0) / 1024, 1),
        temporal_db_mb=round(database_bytes(config) / MB, 1),
    )


@dataclass
class Urgent:
    case_id: str
    deadline: datetime


async def open_all(
    engine: Engine, config: StackConfig, pid: int, args: argparse.Namespace
) -> tuple[list[Sample], Urgent | None, int, list[str], float]:
    """Open the cases batch by batch; (samples, the urgent case, failures, first
    errors, wall seconds)."""
    run_id = uuid.uuid4().hex[:8]
    urgent_index = min(args.cases - 1, int(args.cases * args.urgent_at))
    urgent: Urgent | None = None
    samples: list[Sample] = []
    errors: list[str] = []
    failed = 0
    opened = 0
    began = time.monotonic()
    last = (0, began)

    async def one(index: int) -> None:
        nonlocal urgent, opened, failed
        priority = Priority.URGENT if index == urgent_index else Priority.NORMAL
        try:
            state = await open_inquiry(engine, inquiry(index, run_id, priority=priority))
        except Exception as exc:
            failed += 1
            if len(errors) < 5:
                errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        opened += 1
        if priority is Priority.URGENT:
            deadline = state.clocks[ClockName.FIRST_RESPONSE].deadline
            assert deadline is not None
            urgent = Urgent(state.case_id, deadline)

    for start in range(0, args.cases, args.batch):
        stop = min(args.cases, start + args.batch)
        await asyncio.gather(*(one(index) for index in range(start, stop)))
        if stop // args.sample_every > start // args.sample_every or stop == args.cases:
            sample = _sample(opened, began, last, pid, config)
            last = (opened, time.monotonic())
            samples.append(sample)
            print(_row(sample), flush=True)
    return samples, urgent, failed, errors, time.monotonic() - began


async def urgent_breach(engine: Engine, urgent: Urgent, grace: float) -> BreachSeen | None:
    """The urgent case's breach, looked for until ``grace`` seconds past its deadline."""
    until = urgent.deadline.timestamp() + grace
    while True:
        seen = await asyncio.to_thread(
            first_response_breaches, engine.settings.database_url, [urgent.case_id]
        )
        breach = seen.get(urgent.case_id)
        if breach is not None and breach.alerted_at is not None:
            return breach
        if time.time() > until:
            return None
        await asyncio.sleep(1.0)


HEADER = (
    f"{'cases':>8} {'seconds':>8} {'open/s':>7} {'RSS MB':>8} {'peak MB':>8} {'temporal.db MB':>14}"
)


def _row(sample: Sample) -> str:
    return (
        f"{sample.cases:>8} {sample.seconds:>8.1f} {sample.open_rate:>7.1f} "
        f"{sample.rss_mb:>8.1f} {sample.peak_rss_mb:>8.1f} {sample.temporal_db_mb:>14.1f}"
    )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description="Many open cases on one worker: memory, open rate, database size.",
    )
    parser.add_argument("--cases", type=int, default=50_000, help="cases to open (50,000)")
    parser.add_argument(
        "--max-cached",
        type=int,
        default=2_500,
        help="the worker's cache of open cases (CASE_WORKER_CACHED_WORKFLOWS; 2,500)",
    )
    parser.add_argument("--batch", type=int, default=100, help="opens at once (100)")
    parser.add_argument(
        "--sample-every", type=int, default=10_000, help="cases between samples (10,000)"
    )
    parser.add_argument(
        "--urgent-clock", type=int, default=30, help="the urgent case's clock in seconds (30)"
    )
    parser.add_argument(
        "--urgent-at",
        type=float,
        default=0.9,
        help="share of the cases open when the urgent one is opened (0.9)",
    )
    parser.add_argument(
        "--grace", type=float, default=60.0, help="how long past its deadline to look (60 s)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data directory (logs)"
    )
    args = parser.parse_args(argv)
    if min(args.cases, args.max_cached, args.batch, args.sample_every, args.urgent_clock) < 1:
        parser.error("--cases, --max-cached, --batch, --sample-every, --urgent-clock: positive")
    if not 0 <= args.urgent_at <= 1:
        parser.error("--urgent-at is a share between 0 and 1")
    return args


async def _bench(args: argparse.Namespace, config: StackConfig, pid: int) -> int:
    engine = await connect(config)
    print(
        f"{args.cases} cases, {args.batch} at a time, one worker caching {args.max_cached}",
        flush=True,
    )
    print(HEADER, flush=True)
    samples, urgent, failed, errors, wall = await open_all(engine, config, pid, args)
    opened = samples[-1].cases if samples else 0
    rate = opened / wall if wall > 0 else 0.0
    breach = await urgent_breach(engine, urgent, args.grace) if urgent is not None else None
    memory = memory_kb(pid)
    db_bytes = database_bytes(config)
    peak = memory.get("VmHWM", 0) / 1024
    print(f"opened {opened} cases in {wall:.0f} s: {rate:.1f} cases/s; {failed} failed")
    for error in errors[:1]:
        print(f"  first error: {error}")
    print(f"worker peak RSS {peak:.0f} MB; dev server database {db_bytes / MB:.0f} MB")
    lateness: float | None = None
    if urgent is None:
        print("urgent case: not opened")
    elif breach is None or breach.alert_lateness is None:
        print(f"urgent case {urgent.case_id}: NO breach alert {args.grace:g} s past its deadline")
    else:
        lateness = breach.alert_lateness
        fired = breach.detection_lateness
        verdict = "on time" if lateness < ON_TIME_SECONDS else "LATE"
        print(
            f"urgent case {urgent.case_id}: breach alert {lateness * 1000:.0f} ms after its "
            f"deadline (timer fired {'-' if fired is None else f'{fired * 1000:.0f}'} ms after): "
            f"{verdict} (< {ON_TIME_SECONDS:g} s)"
        )
    if args.json is not None:
        results: dict[str, Any] = {
            "cases": args.cases,
            "opened": opened,
            "failed": failed,
            "max_cached": args.max_cached,
            "batch": args.batch,
            "wall_seconds": round(wall, 1),
            "open_rate": round(rate, 2),
            "samples": [asdict(s) for s in samples],
            "peak_rss_mb": round(peak, 1),
            "temporal_db_mb": round(db_bytes / MB, 1),
            "urgent": None
            if urgent is None
            else {
                "case_id": urgent.case_id,
                "clock_seconds": args.urgent_clock,
                "deadline": urgent.deadline.astimezone(UTC).isoformat(),
                "alert_lateness_ms": None if lateness is None else round(lateness * 1000, 1),
                "on_time": lateness is not None and lateness < ON_TIME_SECONDS,
                "detection_lateness_ms": None
                if breach is None or breach.detection_lateness is None
                else round(breach.detection_lateness * 1000, 1),
            },
            "errors": errors,
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if failed or lateness is None else 0


async def _main(args: argparse.Namespace) -> int:
    cache = {"CASE_WORKER_CACHED_WORKFLOWS": str(args.max_cached)}
    override = clock_override(args.urgent_clock)
    async with policy_stack("scale", override, keep=args.keep, extra_env=cache) as stack:
        return await _bench(args, stack.config, child_pids(stack)["worker-1"])


def main(argv: list[str] | None = None) -> int:
    return run_bench(_parse_args, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
