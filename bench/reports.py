"""Benchmark: the monthly report over a register with 100,000 cases in the month.

``python -m bench.reports --cases 100000`` creates a PostgreSQL database of its own
on the server named by ``CASE_BENCH_POSTGRES_URL`` (default: the local server, role
``postgres``), migrates it, bulk-loads N cases opened in November 2026 (with their
clocks, timeline events, remedies and feedback) plus a trailing three months at a
quarter of the volume, then times the monthly report (the same function the
activity runs) and reports its peak memory: the process's peak RSS
(``resource.getrusage``) and the peak of Python allocations during the report
(``tracemalloc``, in a second run). The database is dropped at the end unless
``--keep``. Run by hand; not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from contracts.periods import month
from policy.reports import report_rules
from store.db import dispose_engine, get_engine, normalise_database_url, session_scope
from store.idempotent import table_of
from store.migrate import upgrade_to_head
from store.report_tables import CaseClockRow
from store.reports import monthly_report
from store.tables import CaseEventRow, CaseRow, FeedbackRecord, RemedyLedgerEntry

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TZ = "Asia/Shanghai"
MONTH_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November in Shanghai
CATEGORIES = ("cards", "loans", "deposits", "payments", "online_banking", "fees")
PRODUCTS = ("credit_card", "debit_card", "mortgage", "savings", None)
CHANNELS = ("phone", "branch", "app", "web", "wechat")
DEPARTMENTS = (None, "cards", "loans", "operations")
BATCH = 5_000


def _case_rows(
    n: int, start: datetime, days: float, rng: random.Random, prefix: str
) -> Iterator[
    tuple[
        dict[str, Any],
        list[dict[str, Any]],
        list[dict[str, Any]],
        dict[str, Any] | None,
        dict[str, Any] | None,
    ]
]:
    for i in range(n):
        opened = start + timedelta(seconds=rng.uniform(0, days * 86400))
        case_id = f"{prefix}-{i:07d}"
        kind = "complaint" if rng.random() < 0.4 else "inquiry"
        department = rng.choice(DEPARTMENTS)
        clocks: list[dict[str, Any]] = []
        for name, allowed, starts in (
            ("first_response", timedelta(minutes=5), opened),
            ("final_reply", timedelta(days=9), opened),
            ("department_plan", timedelta(hours=24), opened + timedelta(hours=1)),
        ):
            if name == "final_reply" and kind != "complaint":
                continue
            if name == "department_plan" and department is None:
                continue
            deadline = starts + allowed
            roll = rng.random()
            met = breached = late = None
            status = "met"
            if roll < 0.7:
                met = starts + allowed * rng.uniform(0.05, 0.95)
            elif roll < 0.9:
                status, breached = "breached", deadline
                met = deadline + allowed * rng.uniform(0.1, 2)
                late = int((met - deadline).total_seconds())
            elif roll < 0.95:
                status, breached = "breached", deadline
            else:
                status = "running"
            clocks.append(
                {
                    "case_id": case_id,
                    "clock": name,
                    "status": status,
                    "started_at": starts,
                    "deadline": deadline,
                    "breached_at": breached,
                    "met_at": met,
                    "seconds_to_meet": int((met - starts).total_seconds()) if met else None,
                    "late_seconds": late,
                }
            )
        closed_at = None
        events = [
            {
                "case_id": case_id,
                "seq": 1,
                "type": "received",
                "at": opened,
                "actor": "system",
                "detail": None,
                "data": {},
            }
        ]
        if all(c["met_at"] for c in clocks):
            met_times: list[datetime] = [c["met_at"] for c in clocks]
            closed_at = max(met_times) + timedelta(hours=1)
            events.append(
                {
                    "case_id": case_id,
                    "seq": 2,
                    "type": "closed",
                    "at": closed_at,
                    "actor": "agent",
                    "detail": None,
                    "data": {},
                }
            )
            clocks.append(
                {
                    "case_id": case_id,
                    "clock": "survey",
                    "status": "met",
                    "started_at": closed_at,
                    "deadline": closed_at + timedelta(days=7),
                    "breached_at": None,
                    "met_at": closed_at + timedelta(hours=5),
                    "seconds_to_meet": 18000,
                    "late_seconds": None,
                }
            )
        case: dict[str, Any] = {
            "case_id": case_id,
            "kind": kind,
            "channel": rng.choice(CHANNELS),
            "category": rng.choice(CATEGORIES),
            "product": rng.choice(PRODUCTS),
            "priority": "normal",
            "customer_id": f"cust-{rng.randrange(n // 2 + 1)}",
            "stage": "closed" if closed_at else "received",
            "owner": "agent",
            "department": department,
            "opened_at": opened,
            "opened_by": "counter",
            "closed_at": closed_at,
            "breached": any(c["status"] == "breached" for c in clocks),
            "escalation_level": 0,
            "next_deadline": None,
            "policy_version": "bench",
            "clocks": {},
            "last_seq": len(events),
            "updated_at": opened,
        }
        feedback = None
        if closed_at is not None and rng.random() < 0.5:
            feedback = {
                "feedback_id": f"{case_id}-F",
                "case_id": case_id,
                "kind": kind,
                "channel": case["channel"],
                "category": case["category"],
                "owner": "agent",
                "score": rng.randint(1, 5),
                "comment": rng.choice((None, "ok", "太慢")),
                "at": closed_at + timedelta(hours=5),
            }
        remedy = None
        if kind == "complaint" and rng.random() < 0.2:
            remedy = {
                "case_id": case_id,
                "remedy_id": f"{case_id}-R",
                "customer_id": case["customer_id"],
                "kind": rng.choice(("compensation", "fee_refund", "discount")),
                "description": "goodwill",
                "amount": Decimal(rng.randrange(100, 50_000)) / 100,
                "currency": "CNY",
                "status": "approved",
                "proposed_by": "agent",
                "decided_by": "supervisor",
                "decided_at": opened,
                "recorded_at": opened,
            }
        yield case, clocks, events, feedback, remedy


def load(url: str, n: int, start: datetime, days: float, prefix: str, seed: int) -> None:
    rng = random.Random(seed)
    tables = {
        "cases": table_of(CaseRow),
        "clocks": table_of(CaseClockRow),
        "events": table_of(CaseEventRow),
        "feedback": table_of(FeedbackRecord),
        "remedies": table_of(RemedyLedgerEntry),
    }
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}

    def flush() -> None:
        with session_scope(url, write=True) as session:
            for name in ("cases", "clocks", "events", "feedback", "remedies"):
                if pending[name]:
                    session.execute(tables[name].insert(), pending[name])
                    pending[name] = []

    for i, (case, clocks, events, feedback, remedy) in enumerate(
        _case_rows(n, start, days, rng, prefix)
    ):
        pending["cases"].append(case)
        pending["clocks"] += clocks
        pending["events"] += events
        if feedback:
            pending["feedback"].append(feedback)
        if remedy:
            pending["remedies"].append(remedy)
        if (i + 1) % BATCH == 0:
            flush()
    flush()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    admin_url = normalise_database_url(os.environ.get("CASE_BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"case_bench_reports_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        began = time.perf_counter()
        load(url, args.cases, MONTH_START, 30, "nov", 1)
        # The trailing three months at a quarter of the volume (recurring problems).
        load(url, args.cases // 4, MONTH_START - timedelta(days=92), 92, "aug", 2)
        # Statistics as autovacuum would have them (committed: ANALYZE is transactional).
        with get_engine(url).begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        print(f"loaded {args.cases} cases in the month in {time.perf_counter() - began:.1f} s")
        rules = report_rules()
        period = month(2026, 11)
        as_of = datetime(2026, 12, 20, tzinfo=UTC)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        with session_scope(url) as session:
            report = monthly_report(session, period, tz=TZ, rules=rules, as_of=as_of)
        elapsed = time.perf_counter() - began
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        with session_scope(url) as session:
            monthly_report(session, period, tz=TZ, rules=rules, as_of=as_of)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"monthly report: {report.volumes.total} cases, {elapsed:.2f} s")
        print(
            f"peak RSS of the process: {rss_after / 1024:.0f} MB (before the report: "
            f"{rss_before / 1024:.0f} MB)"
        )
        print(f"peak Python allocations during the report: {peak / 2**20:.1f} MB")
        print(f"report JSON: {len(report.model_dump_json()) / 1024:.0f} KB")
    finally:
        dispose_engine(url)
        if not args.keep:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
