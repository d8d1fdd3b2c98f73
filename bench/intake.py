"""What the deadline benchmarks share: cases opened through the SDK exactly as the API
opens them, a policy file with short clocks, and the breach alerts read back.

``open_inquiry`` builds the same ``CaseOpenInput`` as ``POST /v1/cases`` and hands it
to ``api.engine.open_case`` (update-with-start on ``confirm_intake``), so a case costs
the engine what an API intake costs it, without the HTTP and token checks in front.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from sqlmodel import col, select
from temporalio.client import Client

from api.engine import open_case
from bench.cases import _own_stack, release_stack
from bench.stats import percentile
from codec.converter import connect_client
from contracts.activities import StaffAlertKind
from contracts.case import CaseKind, CaseOpenInput, CaseState, Customer, Priority
from contracts.policy import ClockName
from settings.app import Settings
from stack.run import Stack, StackConfig
from store.db import session_scope
from store.tables import CaseEventRow, StaffNotification

OPENED_BY = "bench-frontline"
# SQLite's default limit on bound parameters is far above this; PostgreSQL has none.
_CHUNK = 500


def policy_text(override: str) -> str:
    """The shipped policy with ``override`` (TOML ``[[overrides]]``) appended, as the
    tests' ``write_policy`` does."""
    default = resources.files("policy").joinpath("default.toml").read_text(encoding="utf-8")
    return default + "\n" + override.strip() + "\n"


def write_policy(path: Path, override: str) -> Path:
    path.write_text(policy_text(override), encoding="utf-8")
    return path


@asynccontextmanager
async def policy_stack(
    name: str, override: str, *, keep: bool, extra_env: Mapping[str, str] | None = None
) -> AsyncIterator[Stack]:
    """A bench's own stack (one worker, free ports, a temporary data directory) running
    the shipped policy with ``override`` appended; stopped and removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"case-bench-{name}-"))
    policy = write_policy(data_dir / "policy.toml", override)
    print(f"Starting a stack in {data_dir} ...", flush=True)
    stack = await _own_stack(data_dir, 1, {"CASE_POLICY_FILE": str(policy), **(extra_env or {})})
    try:
        yield stack
    finally:
        release_stack(stack, data_dir, keep)


@dataclass(frozen=True)
class Engine:
    """The SDK client with the product's codec, and the settings of the stack's children."""

    client: Client
    settings: Settings


async def connect(config: StackConfig) -> Engine:
    """A client to the stack's Temporal with its codec key, as the API connects."""
    settings = Settings().model_copy(
        update={"codec_keys": config.codec_keys, "database_url": config.database_url}
    )
    client = await connect_client(
        settings, target_host=config.temporal_address, namespace="default"
    )
    return Engine(client=client, settings=settings)


def inquiry(
    index: int,
    run_id: str,
    *,
    received_at: datetime | None = None,
    priority: Priority = Priority.NORMAL,
) -> CaseOpenInput:
    """The intake ``POST /v1/cases`` would build for a card-limit inquiry."""
    return CaseOpenInput(
        case_id="pending",
        kind=CaseKind.INQUIRY,
        channel=("counter", "phone", "online_banking", "mobile_banking")[index % 4],
        customer=Customer(id=f"BENCH-{run_id}-{index}", name="Bench Customer"),
        category="card_limits",
        priority=priority,
        description=f"Benchmark inquiry {index}: how do I raise my card limit?",
        opened_by=OPENED_BY,
        received_at=received_at,
    )


async def open_inquiry(engine: Engine, intake: CaseOpenInput) -> CaseState:
    state, _ = await open_case(
        engine.client,
        task_queue=engine.settings.task_queue,
        intake=intake,
        idempotency_key=None,
    )
    return state


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for case_id in ids:
        batch.append(case_id)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class BreachSeen:
    """One case's first-response breach: the deadline, when its staff alert was written
    to the outbox, and when the workflow's timer fired (the timeline's ``detected_at``)."""

    deadline: datetime
    alerted_at: datetime | None
    detected_at: datetime | None

    @property
    def alert_lateness(self) -> float | None:
        if self.alerted_at is None:
            return None
        return (self.alerted_at - self.deadline).total_seconds()

    @property
    def detection_lateness(self) -> float | None:
        if self.detected_at is None:
            return None
        return (self.detected_at - self.deadline).total_seconds()


def first_response_breaches(database_url: str, case_ids: Iterable[str]) -> dict[str, BreachSeen]:
    """The first-response breach of each case that has one: the staff alert from the
    outbox (``staff_notifications``) and the timeline event from the register."""
    clock = ClockName.FIRST_RESPONSE.value
    alerts: dict[str, StaffNotification] = {}
    detected: dict[str, tuple[datetime, datetime | None]] = {}
    with session_scope(database_url) as session:
        for chunk in _chunks(case_ids):
            rows = session.exec(
                select(StaffNotification).where(
                    col(StaffNotification.case_id).in_(chunk),
                    col(StaffNotification.kind) == StaffAlertKind.BREACH.value,
                    col(StaffNotification.clock) == clock,
                )
            ).all()
            for row in rows:
                alerts.setdefault(row.case_id, row)
            events = session.exec(
                select(CaseEventRow).where(
                    col(CaseEventRow.case_id).in_(chunk),
                    col(CaseEventRow.type) == "clock_breached",
                )
            ).all()
            for event in events:
                if event.data.get("clock") != clock:
                    continue
                raw = event.data.get("detected_at")
                at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
                detected.setdefault(event.case_id, (event.at, at))
    seen: dict[str, BreachSeen] = {}
    for case_id in alerts.keys() | detected.keys():
        alert = alerts.get(case_id)
        event_at, detected_at = detected.get(case_id, (None, None))
        deadline = alert.deadline if alert is not None and alert.deadline else event_at
        if deadline is None:
            continue
        seen[case_id] = BreachSeen(
            deadline=deadline,
            alerted_at=alert.created_at if alert is not None else None,
            detected_at=detected_at,
        )
    return seen


def summary_ms(values: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of lateness samples in ms (``None`` for no samples)."""

    def ms(value: float) -> float | None:
        return None if math.isnan(value) else round(value * 1000, 1)

    return {
        "n": len(values),
        "p50": ms(percentile(values, 50)),
        "p99": ms(percentile(values, 99)),
        "max": ms(max(values)) if values else None,
    }
