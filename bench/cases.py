"""Benchmark: complaints through the whole product vs bare Temporal workflows.

``python -m bench.cases --cases 200 --concurrency 50`` starts its own stack (the same
pieces as ``make run``, in a temporary data directory on free ports), then:

1. product: N complaints over HTTP, C concurrent clients, each case the whole path
   (open, acknowledge, assign, transfer, department plan and result, customer update,
   investigation, remedy, reply, close), timing every request;
2. bare: N ``BareCaseWorkflow`` runs of the same shape (update-with-start, then the
   same number of updates, no-op activities) on the same dev server, driven with the
   SDK alone, timing every call;

and prints cases/s, p50/p95/p99 per step, and the product/bare ratios against their
targets. ``--api URL --tokens-file FILE`` targets a running stack instead (with
``--temporal HOST:PORT`` for the bare phase). Run by hand; not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare import BARE_STEPS, BareAction, BareCaseWorkflow, BareOpenInput
from bench.stats import Phase, run_clients
from stack.processes import Child, free_port, port_in_use, spawn, stop_children
from stack.run import Stack, StackConfig, StackError, config_from_env
from stack.tokens import DevToken, find_token, load_tokens

REPO_ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_TARGET = 0.8  # product cases/s >= 0.8 x bare cases/s
OPEN_P99_TARGET = 1.3  # POST /v1/cases p99 <= 1.3 x bare update-with-start p99
OPEN_LABEL = "POST /v1/cases"
BARE_OPEN_LABEL = "start (update-with-start)"
# Variables that would point our own stack somewhere else.
_FOREIGN_VARS = (
    "TEMPORAL_ADDRESS",
    "DATABASE_URL",
    "CASE_API_TOKENS_FILE",
    "CASE_CODEC_KEYS",
    "CASE_DATA_DIR",
    "CASE_CODEC_CORS_ORIGINS",
)


@dataclasses.dataclass(frozen=True)
class Target:
    api_url: str
    temporal_address: str
    namespace: str
    tokens: list[DevToken]
    log_dir: Path

    @classmethod
    def of(cls, config: StackConfig, namespace: str = "default") -> Target:
        """A bench's own stack (``_own_stack``) as the bench reaches it."""
        return cls(
            api_url=config.api_url,
            temporal_address=config.temporal_address,
            namespace=namespace,
            tokens=config.dev_tokens or [],
            log_dir=config.log_dir,
        )


# --- product phase ---------------------------------------------------------------------


def complaint(index: int, run_id: str) -> dict[str, Any]:
    return {
        "kind": "complaint",
        "channel": ("counter", "phone", "online_banking", "mobile_banking")[index % 4],
        "customer": {
            "id": f"BENCH-{run_id}-{index}",
            "name": "Bench Customer",
            "phone": "+86 138 0000 0000",
        },
        "category": "card_fee",
        "product": "credit_card",
        "description": f"Benchmark complaint {index}: annual fee charged twice.",
    }


def product_steps(department: str, owner: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(path after /v1/cases/{id}, token role, body) for each action, in order."""
    return [
        ("acknowledge", "agent", {"note": "Received, looking into it."}),
        ("assign", "agent", {"owner": owner}),
        ("transfer", "agent", {"department": department, "reason": "Fee reversal needed."}),
        ("department-plan", "department", {"plan": "Check the fee ledger and reverse."}),
        ("department-result", "department", {"result": "Duplicate fee reversed."}),
        ("customer-update", "agent", {"message": "The duplicate fee has been reversed."}),
        ("investigation", "agent", {"findings": "Batch job charged twice.", "upheld": True}),
        (
            "remedies",
            "agent",
            {
                "kind": "fee_refund",
                "description": "Refund of the duplicate fee.",
                "amount": "120.00",
            },
        ),
        ("reply", "agent", {"reply": "We have refunded the fee and fixed the cause."}),
        ("close", "agent", {"reason": "Resolved."}),
    ]


async def product_phase(
    target: Target,
    *,
    cases: int,
    concurrency: int,
    warmup: int,
    department: str,
    meter: CpuMeter,
) -> Phase:
    run_id = uuid.uuid4().hex[:8]
    auth = {
        role: {"Authorization": f"Bearer {find_token(target.tokens, role)}"}
        for role in ("frontline", "agent")
    }
    auth["department"] = {
        "Authorization": f"Bearer {find_token(target.tokens, 'department', department)}"
    }
    owner = next(t.user for t in target.tokens if t.role == "agent")
    steps = product_steps(department, owner)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=target.api_url, limits=limits, timeout=120) as http:

        async def post(
            phase: Phase, label: str, path: str, role: str, body: dict[str, Any]
        ) -> dict[str, Any]:
            headers = {**auth[role], "Idempotency-Key": uuid.uuid4().hex}
            with phase.timed(label):
                response = await http.post(path, json=body, headers=headers)
                if response.status_code >= 300:
                    raise RuntimeError(f"{response.status_code} {response.text[:300]}")
            result: dict[str, Any] = response.json()
            return result

        def flow(phase: Phase, prefix: str) -> Callable[[int], Awaitable[None]]:
            async def one(index: int) -> None:
                opened = await post(
                    phase, OPEN_LABEL, "/v1/cases", "frontline", complaint(index, prefix)
                )
                case_id = opened["case_id"]
                for step, role, body in steps:
                    label = f"POST /v1/cases/{{id}}/{step}"
                    await post(phase, label, f"/v1/cases/{case_id}/{step}", role, body)

            return one

        if warmup:
            await run_clients(
                Phase("warm-up"),
                cases=warmup,
                concurrency=warmup,
                flow=flow(Phase("w"), f"w{run_id}"),
            )
        phase = Phase("Product: HTTP API -> Temporal -> case worker (codec, register, ...)")
        meter.start()
        await run_clients(phase, cases=cases, concurrency=concurrency, flow=flow(phase, run_id))
        phase.cpu_seconds = meter.stop()
    return phase


# --- bare phase ------------------------------------------------------------------------


async def bare_phase(
    client: Client,
    *,
    task_queue: str,
    cases: int,
    concurrency: int,
    warmup: int,
    meter: CpuMeter,
) -> Phase:
    run_id = uuid.uuid4().hex[:8]

    def flow(phase: Phase, prefix: str) -> Callable[[int], Awaitable[None]]:
        async def one(index: int) -> None:
            workflow_id = f"bench-bare-{prefix}-{index}"
            start = WithStartWorkflowOperation(
                BareCaseWorkflow.run,
                BareOpenInput(
                    case_id=workflow_id,
                    kind="complaint",
                    channel="phone",
                    category="card_fee",
                    description=f"Benchmark complaint {index}: annual fee charged twice.",
                    opened_by="bench-frontline",
                ),
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            with phase.timed(BARE_OPEN_LABEL):
                await client.execute_update_with_start_workflow(
                    BareCaseWorkflow.confirm_intake, start_workflow_operation=start
                )
            handle = client.get_workflow_handle(workflow_id)
            for step in BARE_STEPS:
                with phase.timed(f"update {step}"):
                    await handle.execute_update(
                        BareCaseWorkflow.act,
                        BareAction(name=step, actor="bench-agent", text=f"{step} {index}"),
                        id=uuid.uuid4().hex,
                    )

        return one

    if warmup:
        await run_clients(
            Phase("warm-up"), cases=warmup, concurrency=warmup, flow=flow(Phase("w"), f"w{run_id}")
        )
    phase = Phase("Bare: SDK -> Temporal -> BareCaseWorkflow (no-op activities)")
    meter.start()
    await run_clients(phase, cases=cases, concurrency=concurrency, flow=flow(phase, run_id))
    phase.cpu_seconds = meter.stop()
    return phase


@contextlib.asynccontextmanager
async def bare_worker(target: Target, task_queue: str) -> AsyncIterator[Child]:
    """The bare worker in its own process, like the product's worker."""
    argv = [
        sys.executable,
        "-m",
        "bench.bare",
        "--address",
        target.temporal_address,
        "--namespace",
        target.namespace,
        "--task-queue",
        task_queue,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = spawn("bare-worker", argv, env=env, log_dir=target.log_dir, cwd=REPO_ROOT)
    try:
        yield child
    finally:
        stop_children([child])


# --- CPU accounting (Linux; skipped elsewhere) ------------------------------------------


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


class CpuMeter:
    """CPU seconds each process (and this one, the bench client) spends in a phase."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._before: dict[str, float] = {}

    def _snapshot(self) -> dict[str, float]:
        snapshot = {"bench client": time.process_time()}
        for name, pid in self._pids.items():
            seconds = _cpu_seconds(pid)
            if seconds is not None:
                snapshot[name] = seconds
        return snapshot

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        return {name: after[name] - self._before[name] for name in self._before if name in after}


# --- report ----------------------------------------------------------------------------


def ratios(product: Phase, bare: Phase) -> dict[str, float]:
    throughput = product.throughput / bare.throughput if bare.throughput else float("nan")
    bare_open = bare.p(BARE_OPEN_LABEL, 99)
    open_p99 = product.p(OPEN_LABEL, 99) / bare_open if bare_open else float("nan")
    return {"throughput_ratio": throughput, "open_p99_ratio": open_p99}


def render_ratios(values: dict[str, float]) -> str:
    throughput, open_p99 = values["throughput_ratio"], values["open_p99_ratio"]
    ok_t = "met" if throughput >= THROUGHPUT_TARGET else "MISSED"
    ok_o = "met" if open_p99 <= OPEN_P99_TARGET else "MISSED"
    rows = [
        ("throughput, cases/s", throughput, f">= {THROUGHPUT_TARGET:.2f}", ok_t),
        (
            "open p99, POST /v1/cases / update-with-start",
            open_p99,
            f"<= {OPEN_P99_TARGET:.2f}",
            ok_o,
        ),
    ]
    lines = [f"Ratios, product / bare{'':<26}  value  target"]
    lines += [f"  {name:<46}  {value:>5.2f}  {goal}  {ok}" for name, value, goal, ok in rows]
    return "\n".join(lines)


# --- main ------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cases",
        description="Complaints through the product vs bare Temporal workflows.",
    )
    parser.add_argument("--cases", type=int, default=200, help="cases per phase (200)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed cases per phase (5)")
    parser.add_argument(
        "--api", help="URL of a running API (default: start a stack in a temporary directory)"
    )
    parser.add_argument(
        "--tokens-file",
        type=Path,
        help="with --api: the tokens file (default data/dev-tokens.toml)",
    )
    parser.add_argument(
        "--temporal",
        help="with --api: Temporal's address for the bare phase "
        "(default TEMPORAL_ADDRESS or localhost:7233)",
    )
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--department", default="cards", help="where complaints go (cards)")
    parser.add_argument("--only", choices=("product", "bare"), help="run one phase only")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes in the bench's own stack (1; CASE_WORKERS of make run)",
    )
    parser.add_argument("--settle", type=float, default=5.0, help="pause between phases (s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary data directory (logs)"
    )
    args = parser.parse_args(argv)
    if args.cases < 1 or args.concurrency < 1 or args.warmup < 0 or args.workers < 1:
        parser.error("--cases, --concurrency and --workers must be positive, --warmup not negative")
    return args


def _free_port_run(count: int, taken: set[int]) -> int:
    """The first of ``count`` consecutive ports nothing listens on (the workers' metrics)."""
    while True:
        base = free_port()
        wanted = range(base, base + count)
        free = not any(port_in_use("127.0.0.1", port) for port in wanted)
        if base + count <= 65535 and not taken.intersection(wanted) and free:
            return base


async def _own_stack(
    data_dir: Path, workers: int = 1, extra_env: Mapping[str, str] | None = None
) -> Stack:
    """The stack of ``make run`` in ``data_dir`` on free ports; ``extra_env`` reaches
    its children (a policy file, the worker's cache size)."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_VARS}
    env.update(extra_env or {})
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    api_port, temporal_port, ui_port = sorted(ports)
    env.update(
        CASE_DATA_DIR=str(data_dir),
        CASE_API_HOST="127.0.0.1",
        CASE_API_PORT=str(api_port),
        CASE_TEMPORAL_PORT=str(temporal_port),
        CASE_TEMPORAL_UI_PORT=str(ui_port),
        CASE_WORKERS=str(workers),
        CASE_WORKER_METRICS_PORT=str(_free_port_run(workers, taken=ports)),
    )
    # No access log: the bench measures the engine, not log formatting.
    config = dataclasses.replace(config_from_env(env), api_access_log=False)
    stack = Stack(config)
    await stack.start()
    return stack


def child_pids(stack: Stack) -> dict[str, int]:
    """The stack's processes by name (``temporal``, ``worker-1``, ``api``)."""
    return {child.name: child.pid for child in stack.children}


def release_stack(stack: Stack, data_dir: Path, keep: bool) -> None:
    """Stop a bench's own stack and remove its data directory (unless ``--keep``)."""
    stack.stop()
    if keep:
        print(f"data and logs kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def run_bench(
    parse: Callable[[list[str] | None], argparse.Namespace],
    bench: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
    argv: list[str] | None,
) -> int:
    """A bench's ``main``: its arguments, its run, 1 if its stack would not start,
    130 on Ctrl-C."""
    args = parse(argv)
    try:
        return asyncio.run(bench(args))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _bench(args: argparse.Namespace, target: Target, pids: dict[str, int]) -> int:
    print(
        f"{args.cases} cases per phase, {args.concurrency} concurrent clients, "
        f"{args.workers} worker process(es), "
        f"API {target.api_url}, Temporal {target.temporal_address}",
        flush=True,
    )
    results: dict[str, Any] = {
        "cases": args.cases,
        "concurrency": args.concurrency,
        "workers": args.workers,
    }
    product: Phase | None = None
    bare: Phase | None = None
    if args.only in (None, "product"):
        product = await product_phase(
            target,
            cases=args.cases,
            concurrency=args.concurrency,
            warmup=args.warmup,
            department=args.department,
            meter=CpuMeter(pids),
        )
        print(product.render(), flush=True)
        results["product"] = product.as_dict()
    if args.only in (None, "bare"):
        if product is not None:
            await asyncio.sleep(args.settle)  # let the product's trailing activities finish
        task_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
        client = await Client.connect(target.temporal_address, namespace=target.namespace)
        async with bare_worker(target, task_queue) as worker:
            bare_pids = {k: v for k, v in pids.items() if k == "temporal"}
            bare_pids["bare-worker"] = worker.pid
            bare = await bare_phase(
                client,
                task_queue=task_queue,
                cases=args.cases,
                concurrency=args.concurrency,
                warmup=args.warmup,
                meter=CpuMeter(bare_pids),
            )
        print(bare.render(), flush=True)
        results["bare"] = bare.as_dict()
    if product is not None and bare is not None:
        values = ratios(product, bare)
        print(render_ratios(values), flush=True)
        results["ratios"] = {k: round(v, 3) for k, v in values.items()}
        results["targets"] = {
            "throughput_ratio_min": THROUGHPUT_TARGET,
            "open_p99_ratio_max": OPEN_P99_TARGET,
        }
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = (product.failed if product else 0) + (bare.failed if bare else 0)
    return 1 if failed else 0


async def _main(args: argparse.Namespace) -> int:
    if args.api is not None:
        tokens_file = args.tokens_file or Path(os.environ.get("CASE_DATA_DIR", "data")) / (
            "dev-tokens.toml"
        )
        log_dir = Path(tempfile.mkdtemp(prefix="case-bench-logs-"))
        target = Target(
            api_url=args.api.rstrip("/"),
            temporal_address=args.temporal
            or os.environ.get("TEMPORAL_ADDRESS")
            or "localhost:7233",
            namespace=args.namespace,
            tokens=load_tokens(tokens_file),
            log_dir=log_dir,
        )
        print(f"bare worker log: {log_dir / 'bare-worker.log'}")
        return await _bench(args, target, {})

    data_dir = Path(tempfile.mkdtemp(prefix="case-bench-"))
    print(f"Starting a stack in {data_dir} ...", flush=True)
    stack = await _own_stack(data_dir, args.workers)
    try:
        assert stack.config.dev_tokens is not None
        return await _bench(args, Target.of(stack.config, args.namespace), child_pids(stack))
    finally:
        release_stack(stack, data_dir, args.keep)


def main(argv: list[str] | None = None) -> int:
    return run_bench(_parse_args, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
