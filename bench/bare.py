"""The baseline the product is measured against: a bare case-shaped workflow.

``BareCaseWorkflow`` has the case workflow's shape and nothing else: it starts with a
local activity (the product resolves its policy that way), answers ``confirm_intake``
once intake is done (the product opens cases with update-with-start on that update),
then takes one update per handler action, each running one no-op activity (the
product projects every step into the register) and restarting a stage timer (the
product's deadline clocks). ``close`` ends it. No codec, no pydantic, no database, no
HTTP: what is left is Temporal's own cost for that history.

``BareDeadlineWorkflow`` is the deadline clock alone: a timer to the deadline, then a
local activity that reads the wall clock (``bench.lateness`` compares its lateness with
the product's breach alerts).

``python -m bench.bare --address HOST:PORT --task-queue Q`` runs its worker.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

# The product's handler actions in the order a complaint goes through them (the bench
# drives both with this list, so both histories have the same number of updates).
BARE_STEPS = (
    "acknowledge",
    "assign_owner",
    "transfer",
    "record_department_plan",
    "record_department_result",
    "update_customer",
    "record_investigation",
    "propose_remedy",
    "send_final_reply",
    "close",
)

STAGE_CLOCK = timedelta(hours=48)


@dataclass
class BareOpenInput:
    case_id: str
    kind: str
    channel: str
    category: str
    description: str
    opened_by: str


@dataclass
class BareAction:
    name: str
    actor: str
    text: str = ""


@dataclass
class BareProgress:
    case_id: str
    step: int
    stage: str
    actor: str


@dataclass
class BareState:
    case_id: str
    stage: str
    step: int
    closed: bool
    timeline: list[str] = field(default_factory=list)


@activity.defn
async def bare_resolve_policy(case_id: str) -> str:
    """No-op stand-in for the product's policy resolution."""
    return "bench"


@activity.defn
async def bare_record_progress(progress: BareProgress) -> None:
    """No-op stand-in for the product's register projection."""


@workflow.defn
class BareCaseWorkflow:
    @workflow.init
    def __init__(self, input: BareOpenInput) -> None:
        self._case_id = input.case_id
        self._intake_done = False
        self._stage = "received"
        self._step = 0
        self._seen_step = 0
        self._closed = False
        self._timeline: list[str] = [f"opened by {input.opened_by}"]

    @workflow.run
    async def run(self, input: BareOpenInput) -> BareState:
        await workflow.execute_local_activity(
            bare_resolve_policy, input.case_id, start_to_close_timeout=timedelta(seconds=10)
        )
        self._intake_done = True
        await self._record(input.opened_by)
        while not self._closed:
            self._seen_step = self._step
            try:
                # One durable timer per stage, restarted by every action.
                await workflow.wait_condition(
                    lambda: self._closed or self._step != self._seen_step, timeout=STAGE_CLOCK
                )
            except TimeoutError:
                self._timeline.append(f"clock ran out at {self._stage}")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

    @workflow.update
    async def confirm_intake(self) -> BareState:
        await workflow.wait_condition(lambda: self._intake_done)
        return self._state()

    @workflow.update
    async def act(self, action: BareAction) -> BareState:
        await workflow.wait_condition(lambda: self._intake_done)
        self._step += 1
        self._stage = action.name
        self._timeline.append(f"{action.name} by {action.actor}")
        if action.name == "close":
            self._closed = True
        await self._record(action.actor)
        return self._state()

    @act.validator
    def _validate_act(self, action: BareAction) -> None:
        if self._closed:
            raise ApplicationError("the case is closed", type="ActionRejected")
        if action.name not in BARE_STEPS:
            raise ApplicationError(f"unknown action {action.name!r}", type="InvalidAction")

    async def _record(self, actor: str) -> None:
        await workflow.execute_activity(
            bare_record_progress,
            BareProgress(case_id=self._case_id, step=self._step, stage=self._stage, actor=actor),
            start_to_close_timeout=timedelta(seconds=30),
        )

    def _state(self) -> BareState:
        return BareState(
            case_id=self._case_id,
            stage=self._stage,
            step=self._step,
            closed=self._closed,
            timeline=list(self._timeline),
        )


@dataclass
class BareDeadlineInput:
    """A deadline as seconds since the epoch (the bench's wall clock)."""

    deadline: float


@activity.defn
async def bare_wall_clock() -> float:
    """The worker's wall clock when the timer's task ran (``time.time()``)."""
    return time.time()


@workflow.defn
class BareDeadlineWorkflow:
    """One durable timer to a deadline, then a local activity that reads the wall clock:
    the least a deadline clock costs on Temporal (``bench.lateness``'s baseline)."""

    @workflow.run
    async def run(self, input: BareDeadlineInput) -> float:
        wait = input.deadline - workflow.now().timestamp()
        if wait > 0:
            await workflow.sleep(wait)
        fired: float = await workflow.execute_local_activity(
            bare_wall_clock, start_to_close_timeout=timedelta(seconds=10)
        )
        return fired


def build_bare_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareCaseWorkflow, BareDeadlineWorkflow],
        activities=[bare_resolve_policy, bare_record_progress, bare_wall_clock],
    )


async def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--address", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    client = await Client.connect(args.address, namespace=args.namespace)
    worker = build_bare_worker(client, args.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        print(f"bare worker polling {args.task_queue}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_main())
