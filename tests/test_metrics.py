"""The metrics operators scrape, after a real case: the worker's SDK endpoint (a
runtime with Prometheus, as ``worker.py`` builds it from ``CASE_WORKER_METRICS_PORT``)
and the API's ``/metrics``, on the dev server with the real worker and activities,
the register on SQLite and on PostgreSQL.

An urgent inquiry runs on seconds-long clocks (``tests.api_fixtures.FAST_OVERRIDE``):
it breaches, escalates by its clock, and a supervisor escalates it by hand. Every
business figure is checked against the test's own SQL over the register, and the
request counters against the requests the test made.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from codec.converter import connect_client
from store.db import normalise_database_url
from tests.api_fixtures import ApiConfig, ApiStack, free_port, serve
from worker import build_worker, metrics_runtime

WAIT_SECONDS = 20.0
WORKER_IDENTITY = f"metrics-test-worker-{uuid.uuid4().hex[:8]}"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Metered:
    api: ApiStack
    worker_metrics_url: str
    database_url: str


@pytest.fixture(scope="module")
async def metered(api_env: ApiConfig, dev_env: WorkflowEnvironment) -> AsyncIterator[Metered]:
    """The API and a worker whose client runs on a runtime with the metrics endpoint."""
    port = free_port()
    settings = api_env.settings.model_copy(
        update={"worker_metrics_port": port, "worker_identity": WORKER_IDENTITY}
    )
    target_host = dev_env.client.service_client.config.target_host
    namespace = dev_env.client.namespace
    runtime = metrics_runtime(settings)
    assert runtime is not None
    worker_client = await connect_client(
        settings, runtime=runtime, target_host=target_host, namespace=namespace
    )
    api_client = await connect_client(settings, target_host=target_host, namespace=namespace)
    async with build_worker(worker_client, settings):
        running = await serve(create_app(settings, api_client))
        try:
            async with httpx.AsyncClient(base_url=running.base_url, timeout=40) as http:
                api = ApiStack(running.base_url, http, api_client, settings, api_env.tokens)
                yield Metered(api, f"http://127.0.0.1:{port}/metrics", settings.database_url)
        finally:
            await running.stop()


def parse(body: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def present(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= ls for (n, ls) in samples)


async def scrape(http: httpx.AsyncClient, url: str) -> tuple[str, Samples]:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, parse(response.text)


def register_figures(database_url: str) -> dict[str, Counter[tuple[str, ...]]]:
    """The figures straight from the register's rows, by the test's own SQL."""
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            cases = connection.execute(text("SELECT stage, kind FROM cases")).all()
            events = connection.execute(
                text(
                    "SELECT type, data FROM case_events WHERE type IN "
                    "('clock_breached', 'clock_escalated', 'escalated')"
                )
            ).all()
            customer = connection.execute(text("SELECT status FROM customer_notifications")).all()
            staff = connection.execute(text("SELECT status FROM staff_notifications")).all()
    finally:
        engine.dispose()
    by_event: Counter[tuple[str, ...]] = Counter()
    for type_, data in events:
        loaded = json.loads(data) if isinstance(data, str) else data
        by_event[(type_, loaded.get("clock") or "none")] += 1
    return {
        "cases": Counter((stage, kind) for stage, kind in cases),
        "events": by_event,
        "customer": Counter((status,) for (status,) in customer),
        "staff": Counter((status,) for (status,) in staff),
    }


def matches_register(samples: Samples, figures: dict[str, Counter[tuple[str, ...]]]) -> bool:
    checks = [
        total(samples, "case_engine_open_cases", stage=stage, kind=kind) == n
        for (stage, kind), n in figures["cases"].items()
        if stage not in ("resolved", "closed")
    ]
    checks += [
        total(samples, "case_engine_cases", stage=stage, kind=kind) == n
        for (stage, kind), n in figures["cases"].items()
    ]
    checks.append(total(samples, "case_engine_cases") == sum(figures["cases"].values()))
    events = figures["events"]
    checks += [
        total(samples, "case_engine_clock_breaches_total", clock=clock) == n
        for (type_, clock), n in events.items()
        if type_ == "clock_breached"
    ]
    checks.append(
        total(samples, "case_engine_clock_breaches_total")
        == sum(n for (type_, _), n in events.items() if type_ == "clock_breached")
    )
    checks += [
        total(samples, "case_engine_escalations_total", clock=clock, trigger="clock") == n
        for (type_, clock), n in events.items()
        if type_ == "clock_escalated"
    ]
    checks.append(
        total(samples, "case_engine_escalations_total", trigger="manual")
        == events[("escalated", "none")]
    )
    for outbox in ("customer", "staff"):
        for status in ("queued", "sent", "failed"):
            expected = figures[outbox][(status,)]
            checks.append(
                total(samples, "case_engine_deliveries", outbox=outbox, status=status) == expected
            )
    return all(checks)


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


URGENT_INQUIRY: dict[str, Any] = {
    "kind": "inquiry",
    "channel": "phone",
    "customer": {"id": "CUST-METRICS-1", "name": "李四", "phone": "+86 139 0000 0001"},
    "category": "card_limits",
    "priority": "urgent",
    "description": "How do I raise my card limit?",
}


async def test_a_case_moves_the_worker_and_api_metrics(metered: Metered) -> None:
    api = metered.api
    _, worker_before = await scrape(api.http, metered.worker_metrics_url)
    _, api_before = await scrape(api.http, "/metrics")
    queue = {"task_queue": api.settings.task_queue}
    opened_route = {"method": "POST", "route": "/v1/cases", "status": "201"}
    read_route = {"method": "GET", "route": "/v1/cases/{case_id}", "status": "200"}
    assert total(api_before, "case_api_requests_total", **opened_route) == 0
    assert total(api_before, "case_engine_open_cases", stage="received", kind="inquiry") == 0
    assert total(api_before, "case_engine_register_up") == 1

    response = await api.post("frontline", "/v1/cases", URGENT_INQUIRY)
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    reads = 0

    async def breached_and_escalated() -> bool:
        nonlocal reads
        reply = await api.get("agent", f"/v1/cases/{case_id}")
        reads += 1
        assert reply.status_code == 200, reply.text
        types = [e["type"] for e in reply.json()["timeline"]]
        return "clock_breached" in types and "clock_escalated" in types

    await eventually(breached_and_escalated, what="the first response to breach and escalate")
    escalated = await api.post(
        "supervisor", f"/v1/cases/{case_id}/escalate", {"reason": "customer called again"}
    )
    assert escalated.status_code == 200, escalated.text

    # The register's figures match the test's own SQL (retried: clocks keep firing).
    last: dict[str, Any] = {}

    async def figures_match() -> bool:
        body, samples = await scrape(api.http, "/metrics")
        figures = register_figures(metered.database_url)
        last.update(body=body, samples=samples, figures=figures)
        return matches_register(samples, figures)

    await eventually(figures_match, what="the scraped figures to match the register")
    samples, figures = last["samples"], last["figures"]
    assert figures["cases"][("received", "inquiry")] == 1
    assert total(samples, "case_engine_open_cases", stage="received", kind="inquiry") == 1
    assert total(samples, "case_engine_clock_breaches_total", clock="first_response") == 1
    assert total(samples, "case_engine_escalations_total", trigger="clock") >= 1
    assert total(samples, "case_engine_escalations_total", trigger="manual") == 1
    assert total(samples, "case_engine_deliveries", outbox="staff", status="queued") >= 2

    # Requests by route template and status, never by raw path; no identifier leaks.
    assert total(samples, "case_api_requests_total", **opened_route) == 1
    assert total(samples, "case_api_request_duration_seconds_count", **opened_route) == 1
    assert total(samples, "case_api_requests_total", **read_route) == reads
    escalate_route = {"route": "/v1/cases/{case_id}/escalate", "status": "200"}
    assert total(samples, "case_api_requests_total", **escalate_route) == 1
    body = last["body"]
    for secret in (case_id, URGENT_INQUIRY["customer"]["id"], api.tokens["agent"]):
        assert secret not in body
    unknown = await api.http.get(f"/no/such/{case_id}")
    assert unknown.status_code == 404
    _, after_404 = await scrape(api.http, "/metrics")
    assert total(after_404, "case_api_requests_total", route="<unmatched>", status="404") == 1

    # The worker's SDK metrics moved for this task queue.
    _, worker_after = await scrape(api.http, metered.worker_metrics_url)
    for name in (
        "temporal_workflow_task_execution_latency_count",
        "temporal_local_activity_execution_latency_count",
    ):
        before, after = total(worker_before, name, **queue), total(worker_after, name, **queue)
        assert after > before, name

    # The worker polls under the identity CASE_WORKER_IDENTITY gave it.
    described = await api.client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=api.client.namespace,
            task_queue=TaskQueue(name=api.settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    assert WORKER_IDENTITY in {poller.identity for poller in described.pollers}


async def test_breach_event_records_deadline_and_detection(metered: Metered) -> None:
    api = metered.api
    response = await api.post(
        "frontline",
        "/v1/cases",
        {**URGENT_INQUIRY, "customer": {**URGENT_INQUIRY["customer"], "id": "CUST-METRICS-2"}},
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    breach: dict[str, Any] = {}

    async def breached() -> bool:
        timeline = (await api.get("agent", f"/v1/cases/{case_id}")).json()["timeline"]
        found = [e for e in timeline if e["type"] == "clock_breached"]
        if found:
            breach.update(found[0])
        return bool(found)

    await eventually(breached, what="the breach")
    deadline = datetime.fromisoformat(breach["at"])
    detected = datetime.fromisoformat(breach["data"]["detected_at"])
    assert deadline <= detected < deadline + timedelta(seconds=5)
    state = (await api.get("agent", f"/v1/cases/{case_id}")).json()
    clock_deadline = datetime.fromisoformat(state["clocks"]["first_response"]["deadline"])
    assert deadline == clock_deadline
