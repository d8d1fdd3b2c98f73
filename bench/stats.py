"""Latency samples and throughput of one benchmark phase, and how they print."""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); NaN for no samples."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Phase:
    """What one phase measured: per-step latencies in seconds, failures, wall time."""

    name: str
    cases: int = 0
    completed: int = 0
    wall_seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    _recorded: set[int] = field(default_factory=set, repr=False)

    @property
    def failed(self) -> int:
        return self.cases - self.completed

    @property
    def throughput(self) -> float:
        """Completed cases per second of wall time."""
        return self.completed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @contextmanager
    def timed(self, label: str) -> Iterator[None]:
        """Record how long the block took under ``label``; failures are recorded too."""
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.record_error(label, exc)
            raise
        self.latencies[label].append(time.perf_counter() - started)

    def record_error(self, label: str, exc: BaseException) -> None:
        if id(exc) not in self._recorded:
            self._recorded.add(id(exc))
            self.errors[label].append(f"{type(exc).__name__}: {str(exc)[:300]}")

    def p(self, label: str, q: float) -> float:
        return percentile(self.latencies.get(label, []), q)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cases": self.cases,
            "completed": self.completed,
            "failed": self.failed,
            "wall_seconds": round(self.wall_seconds, 3),
            "cases_per_second": round(self.throughput, 3),
            "cpu_seconds": {k: round(v, 2) for k, v in self.cpu_seconds.items()},
            "latency_ms": {
                label: {
                    "n": len(samples),
                    "p50": round(percentile(samples, 50) * 1000, 1),
                    "p95": round(percentile(samples, 95) * 1000, 1),
                    "p99": round(percentile(samples, 99) * 1000, 1),
                }
                for label, samples in self.latencies.items()
            },
            "errors": {label: errors[:5] for label, errors in self.errors.items()},
        }

    def render(self) -> str:
        width = max([len(label) for label in self.latencies] + [8])
        lines = [
            f"{self.name}",
            f"  cases/s: {self.throughput:.2f}   ({self.completed}/{self.cases} cases in "
            f"{self.wall_seconds:.1f} s, {self.failed} failed)",
        ]
        if self.cpu_seconds:
            per_case = ", ".join(
                f"{name} {seconds / max(self.completed, 1) * 1000:.0f} ms"
                for name, seconds in self.cpu_seconds.items()
            )
            lines.append(f"  CPU per case: {per_case}")
        lines.append(f"  {'step':<{width}}  {'n':>5}  {'p50 ms':>8}  {'p95 ms':>8}  {'p99 ms':>8}")
        for label, samples in self.latencies.items():
            lines.append(
                f"  {label:<{width}}  {len(samples):>5}  "
                f"{percentile(samples, 50) * 1000:>8.1f}  "
                f"{percentile(samples, 95) * 1000:>8.1f}  "
                f"{percentile(samples, 99) * 1000:>8.1f}"
            )
        for label, errors in self.errors.items():
            lines.append(f"  errors at {label}: {len(errors)}, first: {errors[0]}")
        return "\n".join(lines)


async def run_clients(
    phase: Phase, *, cases: int, concurrency: int, flow: Callable[[int], Awaitable[None]]
) -> None:
    """Run ``flow(i)`` for i in 0..cases-1 with ``concurrency`` clients; time the whole."""
    next_index = 0

    async def client() -> None:
        nonlocal next_index
        while next_index < cases:
            index = next_index
            next_index += 1
            try:
                await flow(index)
            except Exception as exc:  # the case counts as failed
                phase.record_error("(flow)", exc)  # no-op if a timed step recorded it
                continue
            phase.completed += 1

    phase.cases = cases
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(max(1, min(concurrency, cases)))))
    phase.wall_seconds = time.perf_counter() - started
