"""What one inquiry through its first-response breach costs the Temporal service, against
a bare timer to the same deadline: the events in each history, by type.

``python -m bench.events`` starts its own stack as ``bench.lateness`` does (inquiries on
a first-response clock of ``--clock`` seconds), opens one inquiry through the SDK with
the API's workflow input and one ``BareDeadlineWorkflow`` to the same deadline, waits
until the deadline and ``--grace`` seconds more have passed, and prints both histories'
events by type. Workflow tasks and activity tasks are the server's units of work (each
a dispatch to a worker and a write of its result), so the counts show where the
product's server-side cost per case in the lateness bench comes from. Run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from bench.bare import BareDeadlineInput, BareDeadlineWorkflow
from bench.cases import Target, bare_worker, run_bench
from bench.intake import connect, inquiry, open_inquiry, policy_stack
from bench.lateness import clock_override
from contracts.case import case_workflow_id

PREFIX = "EVENT_TYPE_"


async def event_counts(handle: WorkflowHandle[Any, Any]) -> dict[str, int]:
    """The workflow's history so far, counted by event type (``EVENT_TYPE_`` dropped)."""
    history = await handle.fetch_history()
    names = (EventType.Name(event.event_type).removeprefix(PREFIX) for event in history.events)
    return dict(collections.Counter(names))


def render(product: dict[str, int], bare: dict[str, int]) -> str:
    width = max(len(name) for name in [*product, *bare, "total"])
    lines = [f"{'event':<{width}} {'product':>8} {'bare':>6}"]
    for name in sorted(set(product) | set(bare)):
        lines.append(f"{name:<{width}} {product.get(name, 0):>8} {bare.get(name, 0):>6}")
    lines.append(f"{'total':<{width}} {sum(product.values()):>8} {sum(bare.values()):>6}")
    return "\n".join(lines)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.events",
        description="History events of one inquiry through its breach vs a bare timer.",
    )
    parser.add_argument("--clock", type=int, default=10, help="first-response clock (10 s)")
    parser.add_argument("--grace", type=float, default=5.0, help="wait after the deadline (5 s)")
    parser.add_argument("--json", type=Path, help="also write the counts to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (logs)")
    args = parser.parse_args(argv)
    if args.clock < 1 or args.grace < 0:
        parser.error("--clock must be positive and --grace not negative")
    return args


async def _main(args: argparse.Namespace) -> int:
    async with policy_stack("events", clock_override(args.clock), keep=args.keep) as stack:
        engine = await connect(stack.config)
        target = Target.of(stack.config)
        now = time.time()
        deadline = now + args.clock
        state = await open_inquiry(
            engine, inquiry(0, uuid.uuid4().hex[:8], received_at=datetime.fromtimestamp(now, UTC))
        )
        task_queue = f"bench-events-{uuid.uuid4().hex[:8]}"
        client = await Client.connect(target.temporal_address, namespace=target.namespace)
        async with bare_worker(target, task_queue):
            bare_handle = await client.start_workflow(
                BareDeadlineWorkflow.run,
                BareDeadlineInput(deadline=deadline),
                id=f"bench-events-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
            )
            await asyncio.sleep(max(0.0, deadline + args.grace - time.time()))
            await bare_handle.result()
            bare = await event_counts(bare_handle)
        product_handle = engine.client.get_workflow_handle(case_workflow_id(state.case_id))
        product = await event_counts(product_handle)
        print(f"Inquiry {state.case_id}, first-response clock {args.clock} s, breached:")
        print(render(product, bare), flush=True)
        if args.json is not None:
            results = {"clock_seconds": args.clock, "product": product, "bare": bare}
            args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        return 0


def main(argv: list[str] | None = None) -> int:
    return run_bench(_parse_args, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
