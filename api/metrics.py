"""The API's Prometheus metrics at ``GET /metrics``.

- ``case_api_requests_total{method, route, status}`` and
  ``case_api_request_duration_seconds{method, route, status}`` (a histogram): every
  HTTP request, labelled by the route's template (``/v1/cases/{case_id}``), never the
  raw path, so case references stay out of the labels and the series stay bounded;
  a path no route matches is labelled ``<unmatched>``.
- The register's business figures (``store.metrics.RegisterCollector``): open cases
  by stage and kind, breaches and escalations by clock, deliveries by status.
- The process's own CPU, memory and file descriptors (``process_*``).

The endpoint needs no token: a scraper has none, and no figure or label holds
personal data or an identifier (only stages, kinds, clocks, statuses, methods and
route templates). Production still exposes it only to the monitoring network, as any
scrape port.

Each app has its own registry, so tests can build as many apps as they like.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.metrics import RegisterCollector

UNMATCHED = "<unmatched>"
# Seconds; the open call waits for the workflow's first answer, so the tail is long.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LABELS = ("method", "route", "status")

router = APIRouter(tags=["health"])


class HttpMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "case_api_requests",
            "HTTP requests answered, by route template and status",
            LABELS,
            registry=registry,
        )
        self.latency = Histogram(
            "case_api_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class MetricsMiddleware:
    """Plain ASGI middleware (no response buffering) timing every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router puts the matched route in the scope; its path is the template.
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)


def install_metrics(app: FastAPI, database_url: str) -> CollectorRegistry:
    """Count the app's requests and serve ``GET /metrics`` from a registry of its own."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(RegisterCollector(database_url))
    app.state.metrics_registry = registry
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))
    app.include_router(router)
    return registry


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format; the register's queries run off the event loop."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
