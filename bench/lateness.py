"""Benchmark: how late deadline alerts are at a rising load, and where that breaks.

``python -m bench.lateness --rates 4,8,12,16,24,32 --step-seconds 20`` starts its own
stack (``make run``'s pieces, in a temporary data directory on free ports) with a
policy whose inquiries have a first-response clock of ``--clock`` seconds, then for
each rate r, in rising order:

1. product: r inquiries a second are opened through the SDK with the API's own
   workflow input (``api.engine.open_case``), each ``received_at`` its planned time,
   for ``--step-seconds`` plus one clock, so r deadlines fall due each second over the
   step's window while new cases keep arriving at r a second. For each case opened in
   the first ``--step-seconds`` it reads the staff breach alert's ``created_at`` in
   the outbox minus the clock's deadline (the lateness a handler sees), and the
   timeline breach event's ``detected_at`` minus the deadline (when the timer fired);
2. bare: on the same dev server, the same schedule of ``BareDeadlineWorkflow`` runs
   (``bench/bare.py``, in their own worker process): a timer to the same deadline and a
   local activity that reads the wall clock.

It prints p50/p99/max lateness per step and side with each process's CPU per case
over the step, each side's knee (the highest rate up to which every step's p99 stayed
under 1 s) and the product/bare knee ratio against its target. A side stops raising its
rate after ``--stop-after`` steps in a row that broke, so one run can try a fine grid
of rates up to where the bare side breaks. Run by hand; not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from bench.bare import BareDeadlineInput, BareDeadlineWorkflow
from bench.cases import CpuMeter, Target, bare_worker, child_pids, run_bench
from bench.intake import (
    Engine,
    connect,
    first_response_breaches,
    inquiry,
    open_inquiry,
    policy_stack,
    summary_ms,
)
from bench.stats import percentile

KNEE_P99_SECONDS = 1.0  # a deadline alert later than this at p99 is a broken step
KNEE_RATIO_TARGET = 0.7  # product knee >= 0.7 x bare knee
# Fine enough to place each side's knee within a fifth or so of its rate.
DEFAULT_RATES = "4,8,10,12,14,16,20,24,32,40,48,64"


def clock_override(clock_seconds: int) -> str:
    """Inquiries answer on a clock of seconds; escalations wait an hour, so a step's
    load is its deadlines (with their warnings) and intakes, nothing else."""
    return f"""
[[overrides]]
kind = "inquiry"
clocks = {{ first_response = "PT{clock_seconds}S" }}
escalation = {{ interval = "PT1H" }}
"""


@dataclass
class Step:
    """One rate on one side: the deadlines it measured and how late each was."""

    side: str
    rate: float
    measured: int = 0
    opened: int = 0
    failed: int = 0
    open_seconds: float = 0.0
    lateness: list[float] = field(default_factory=list)
    # Product only: when the breach timer fired (``detected_at``) minus the deadline.
    detection: list[float] = field(default_factory=list)
    # Deadlines with no alert by the end of the grace period; counted in ``lateness``
    # at their lower bound (the time of looking minus the deadline).
    missing: int = 0
    errors: list[str] = field(default_factory=list)
    # CPU seconds each process spent over the step (opens, timers, the grace wait).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def open_rate(self) -> float:
        return self.opened / self.open_seconds if self.open_seconds > 0 else 0.0

    @property
    def p99(self) -> float:
        return percentile(self.lateness, 99)

    @property
    def held(self) -> bool:
        """The step kept its deadlines: p99 under the limit, nothing lost or failed."""
        return self.p99 < KNEE_P99_SECONDS and self.failed == 0 and self.missing == 0

    def cpu_ms_per_case(self) -> dict[str, float]:
        """Each process's CPU over the step, per case opened: where a side's time goes."""
        if not self.opened:
            return {}
        return {name: round(s * 1000 / self.opened, 1) for name, s in self.cpu_seconds.items()}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rate": self.rate,
            "measured": self.measured,
            "opened": self.opened,
            "failed": self.failed,
            "missing": self.missing,
            "open_rate": round(self.open_rate, 2),
            "lateness_ms": summary_ms(self.lateness),
            "held": self.held,
            "cpu_ms_per_case": self.cpu_ms_per_case(),
            "errors": self.errors[:5],
        }
        if self.side == "product":
            out["detection_ms"] = summary_ms(self.detection)
        return out


Launch = Callable[[int, float], Awaitable[None]]


async def paced(step: Step, *, rate: float, count: int, in_flight: int, launch: Launch) -> None:
    """Call ``launch(i, planned)`` at ``planned`` = start + i / rate (wall clock). Behind
    schedule, the cases due go together, at most ``in_flight`` unanswered at once."""
    gate = asyncio.Semaphore(in_flight)
    start = time.time() + 0.5

    async def one(index: int, planned: float) -> None:
        try:
            await launch(index, planned)
            step.opened += 1
        except Exception as exc:
            step.failed += 1
            step.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        finally:
            gate.release()

    tasks: list[asyncio.Task[None]] = []
    for index in range(count):
        planned = start + index / rate
        delay = planned - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(index, planned)))
    await asyncio.gather(*tasks)
    step.open_seconds = time.time() - start


def _schedule(rate: float, args: argparse.Namespace) -> tuple[int, int]:
    """(deadlines measured, cases opened): the step's window, then one clock more of
    arrivals so the window's last deadlines still fall among new intakes."""
    measured = max(1, round(rate * args.step_seconds))
    return measured, measured + math.ceil(rate * args.clock)


async def _wait_for_deadlines(deadlines: list[float], grace: float) -> float:
    until = max(deadlines, default=time.time()) + grace
    await asyncio.sleep(max(0.0, until - time.time()))
    return time.time()


async def product_step(
    engine: Engine, rate: float, args: argparse.Namespace, meter: CpuMeter
) -> Step:
    step = Step("product", rate)
    step.measured, total = _schedule(rate, args)
    run_id = uuid.uuid4().hex[:8]
    expected: dict[str, float] = {}

    async def launch(index: int, planned: float) -> None:
        received = datetime.fromtimestamp(planned, UTC)
        state = await open_inquiry(engine, inquiry(index, run_id, received_at=received))
        if index < step.measured:
            expected[state.case_id] = planned + args.clock

    meter.start()
    await paced(step, rate=rate, count=total, in_flight=args.in_flight, launch=launch)
    looked_at = await _wait_for_deadlines(list(expected.values()), args.grace)
    step.cpu_seconds = meter.stop()
    seen = await asyncio.to_thread(
        first_response_breaches, engine.settings.database_url, list(expected)
    )
    for case_id, deadline in expected.items():
        breach = seen.get(case_id)
        alert = breach.alert_lateness if breach is not None else None
        if alert is None:
            step.missing += 1
            step.lateness.append(looked_at - deadline)
        else:
            step.lateness.append(alert)
        detection = breach.detection_lateness if breach is not None else None
        if detection is not None:
            step.detection.append(detection)
    return step


async def bare_step(
    client: Client, task_queue: str, rate: float, args: argparse.Namespace, meter: CpuMeter
) -> Step:
    step = Step("bare", rate)
    step.measured, total = _schedule(rate, args)
    run_id = uuid.uuid4().hex[:8]
    handles: dict[int, tuple[WorkflowHandle[Any, float], float]] = {}

    async def launch(index: int, planned: float) -> None:
        deadline = planned + args.clock
        handle = await client.start_workflow(
            BareDeadlineWorkflow.run,
            BareDeadlineInput(deadline=deadline),
            id=f"bench-deadline-{run_id}-{index}",
            task_queue=task_queue,
        )
        if index < step.measured:
            handles[index] = (handle, deadline)

    meter.start()
    await paced(step, rate=rate, count=total, in_flight=args.in_flight, launch=launch)
    looked_at = await _wait_for_deadlines([d for _, d in handles.values()], args.grace)
    gate = asyncio.Semaphore(args.in_flight)

    async def result(handle: WorkflowHandle[Any, float], deadline: float) -> float:
        async with gate:
            try:
                fired = await asyncio.wait_for(handle.result(), timeout=5)
            except Exception:
                step.missing += 1
                return looked_at - deadline
            return fired - deadline

    step.lateness = list(await asyncio.gather(*(result(h, d) for h, d in handles.values())))
    step.cpu_seconds = meter.stop()
    return step


# --- report ----------------------------------------------------------------------------


def knee(steps: list[Step]) -> float | None:
    """The highest rate up to which every step held; ``None`` if the first did not."""
    best: float | None = None
    for step in sorted(steps, key=lambda s: s.rate):
        if not step.held:
            break
        best = step.rate
    return best


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:.0f}"


HEADER = (
    f"{'side':<8} {'rate/s':>6} {'deadlines':>9} {'opened/s':>8} {'p50 ms':>8} "
    f"{'p99 ms':>8} {'max ms':>8} {'missing':>7} {'failed':>6}  timer fired p50/p99 ms"
)


def row(step: Step) -> str:
    """One step's line; the product's ends with when its timers fired (``detected_at``)."""
    fired = (
        f"{_ms(percentile(step.detection, 50))}/{_ms(percentile(step.detection, 99))}"
        if step.side == "product"
        else ""
    )
    worst = max(step.lateness) if step.lateness else math.nan
    line = (
        f"{step.side:<8} {step.rate:>6g} {step.measured:>9} {step.open_rate:>8.1f} "
        f"{_ms(percentile(step.lateness, 50)):>8} {_ms(step.p99):>8} {_ms(worst):>8} "
        f"{step.missing:>7} {step.failed:>6}  {fired}"
    )
    if cpu := step.cpu_ms_per_case():
        line += "\n    CPU per case (ms): " + ", ".join(f"{k} {v:g}" for k, v in cpu.items())
    if step.errors:
        line += f"\n    first error: {step.errors[0]}"
    return line


def render(steps: list[Step]) -> str:
    return "\n".join([HEADER, *(row(step) for step in steps)])


def knee_summary(product: list[Step], bare: list[Step]) -> dict[str, Any]:
    product_knee, bare_knee = knee(product), knee(bare)
    ratio = (
        product_knee / bare_knee
        if product_knee is not None and bare_knee is not None
        else (0.0 if bare_knee is not None else None)
    )
    return {
        "product": product_knee,
        "bare": bare_knee,
        # A side that held at the highest rate it tried has its knee there or above.
        "product_at_least": all(s.held for s in product),
        "bare_at_least": all(s.held for s in bare),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": KNEE_RATIO_TARGET,
    }


def render_knee(summary: dict[str, Any]) -> str:
    def side(name: str) -> str:
        value = summary[name]
        if value is None:
            return "none (the first step missed)"
        return f"{'>= ' if summary[f'{name}_at_least'] else ''}{value:g}/s"

    ratio = summary["ratio"]
    verdict = "-" if ratio is None else ("met" if ratio >= KNEE_RATIO_TARGET else "MISSED")
    return (
        f"Knee (highest rate with p99 < {KNEE_P99_SECONDS:g} s): "
        f"product {side('product')}, bare {side('bare')}\n"
        f"Knee ratio product / bare: {'-' if ratio is None else f'{ratio:.2f}'}  "
        f"target >= {KNEE_RATIO_TARGET}  {verdict}"
    )


# --- main ------------------------------------------------------------------------------


def _rates(text: str) -> list[float]:
    try:
        rates = sorted(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--rates: {exc}") from exc
    if not rates or rates[0] <= 0:
        raise argparse.ArgumentTypeError("--rates: positive numbers, comma separated")
    return rates


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lateness",
        description="Deadline lateness at a rising rate: the product vs bare Temporal.",
    )
    parser.add_argument(
        "--rates", type=_rates, default=_rates(DEFAULT_RATES), help="deadlines/s per step"
    )
    parser.add_argument("--step-seconds", type=float, default=20.0, help="window per step (20)")
    parser.add_argument(
        "--clock", type=int, default=10, help="first-response clock in seconds (10)"
    )
    parser.add_argument(
        "--grace", type=float, default=20.0, help="wait after a step's last deadline (20 s)"
    )
    parser.add_argument(
        "--in-flight", type=int, default=200, help="opens unanswered at once at most (200)"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=1,
        help="stop raising a side's rate after this many steps in a row that broke "
        "(1; 0 runs every rate)",
    )
    parser.add_argument("--only", choices=("product", "bare"), help="run one side only")
    parser.add_argument("--settle", type=float, default=5.0, help="pause between sides (s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data directory (logs)"
    )
    args = parser.parse_args(argv)
    if args.step_seconds <= 0 or args.clock < 1 or args.grace < 0 or args.in_flight < 1:
        parser.error("--step-seconds, --clock and --in-flight must be positive")
    if args.stop_after < 0:
        parser.error("--stop-after must be 0 or more")
    return args


def broken_run(steps: list[Step], stop_after: int) -> bool:
    """Whether a side's last ``stop_after`` steps all broke: higher rates would only
    queue further behind (and slow the other side's steps that share the server)."""
    tail = steps[-stop_after:] if stop_after else []
    return bool(tail) and len(tail) == stop_after and not any(s.held for s in tail)


async def _bench(
    args: argparse.Namespace, engine: Engine, target: Target, pids: dict[str, int]
) -> int:
    print(
        f"rates {', '.join(f'{r:g}' for r in args.rates)} deadlines/s, "
        f"{args.step_seconds:g} s per step, first-response clock {args.clock} s",
        flush=True,
    )
    print(HEADER, flush=True)
    product: list[Step] = []
    bare: list[Step] = []
    if args.only in (None, "product"):
        meter = CpuMeter(pids)  # the dev server, the worker(s) and the (idle) API
        for rate in args.rates:
            step = await product_step(engine, rate, args, meter)
            product.append(step)
            print(row(step), flush=True)
            if broken_run(product, args.stop_after):
                break
    if args.only in (None, "bare"):
        if product:
            await asyncio.sleep(args.settle)
        task_queue = f"bench-deadline-{uuid.uuid4().hex[:8]}"
        client = await Client.connect(target.temporal_address, namespace=target.namespace)
        async with bare_worker(target, task_queue) as worker:
            meter = CpuMeter({"temporal": pids["temporal"], "bare-worker": worker.pid})
            for rate in args.rates:
                step = await bare_step(client, task_queue, rate, args, meter)
                bare.append(step)
                print(row(step), flush=True)
                if broken_run(bare, args.stop_after):
                    break
    print(render(product + bare), flush=True)
    results: dict[str, Any] = {
        "rates": args.rates,
        "step_seconds": args.step_seconds,
        "clock_seconds": args.clock,
        "grace_seconds": args.grace,
        "product": [s.as_dict() for s in product],
        "bare": [s.as_dict() for s in bare],
    }
    if product and bare:
        summary = knee_summary(product, bare)
        print(render_knee(summary), flush=True)
        results["knee"] = summary
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if any(s.failed for s in product + bare) else 0


async def _main(args: argparse.Namespace) -> int:
    async with policy_stack("lateness", clock_override(args.clock), keep=args.keep) as stack:
        engine = await connect(stack.config)
        return await _bench(args, engine, Target.of(stack.config), child_pids(stack))


def main(argv: list[str] | None = None) -> int:
    return run_bench(_parse_args, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
