"""CaseWorkflow: one durable workflow per inquiry or complaint.

The workflow decides; the action table (``workflows.rules``) holds the rules;
activities act. Its timers are the plan's deadlines, and its history is the audit
trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.actions import Action
    from contracts.activities import (
        COMPUTE_DEADLINE,
        RECORD_CASE_PROGRESS,
        RESOLVE_CASE_POLICY,
        CaseProgressInput,
        ComputeDeadlineInput,
        DeadlineResult,
        ResolvePolicyInput,
    )
    from contracts.case import CaseOpenInput, CaseState, IntakeReceipt
    from contracts.policy import ResolvedPolicy
    from workflows import visibility
    from workflows.case_file import CaseFile, RejectionError
    from workflows.effects import EFFECT_RETRY, LOCAL_RETRY, Effect, activity_call
    from workflows.rules import ACTIONS, ActionRule, AnyRule, CountedDeadline, CountingRule
    from workflows.rules.clocks import fire_due, next_clock_event


T = TypeVar("T")


@workflow.defn
class CaseWorkflow:
    """One inquiry or complaint from intake to the end of its survey window."""

    @workflow.init
    def __init__(self, input: CaseOpenInput) -> None:
        # Updates and signals that arrive with the first task run before ``run``:
        # everything they read is set up here.
        self._case = CaseFile.open(input, now=workflow.now())
        self._intake_done = False
        self._receipts = 0
        self._effects: deque[Effect] = deque()
        self._projected_seq = 0
        self._clock_changed = False
        self._effects_busy = False
        self._projecting = False
        self._visible: dict[str, Any] = {}
        self._publish = visibility.publishes_search_attributes(
            workflow.info().typed_search_attributes
        )
        # Every handler action is an update of its own name, from the action table.
        for name, rule in ACTIONS.items():
            handler, validator = self._update_handlers(rule)
            workflow.set_update_handler(name, handler, validator=validator)

    # --- the main line -------------------------------------------------------------

    @workflow.run
    async def run(self, input: CaseOpenInput) -> CaseState:
        await self._intake(input)
        effects = asyncio.create_task(self._carry_out_effects())
        projection = asyncio.create_task(self._keep_register())
        await self._keep_clocks()
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._effects_pending()
        )
        effects.cancel()
        projection.cancel()
        return self._case.state

    async def _intake(self, input: CaseOpenInput) -> None:
        """Resolve the policy and start the receipt clocks; both in local activities so
        the results land in history and replay never re-reads files or calendars."""
        policy = await self._patiently(
            "policy not resolved",
            lambda: workflow.execute_local_activity(
                RESOLVE_CASE_POLICY.name,
                ResolvePolicyInput(kind=input.kind, priority=input.priority),
                result_type=RESOLVE_CASE_POLICY.result,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=LOCAL_RETRY,
                summary="Resolve deadline policy",
            ),
        )
        self._case.policy = policy
        self._case.state.policy_version = policy.version
        start = self._case.state.opened_at
        for name in self._case.intake_clocks():
            deadline = self._case.duration_deadline(name, start=start)
            if deadline is None:
                days = policy.clocks[name].working_days
                assert days is not None
                deadline = await self._patiently(
                    "working days not counted",
                    functools.partial(self._count_working_days, start, days, policy),
                )
            self._case.start_clock(name, now=start, deadline=deadline)
        self._case.complete_intake(now=workflow.now())
        fire_due(self._case, now=workflow.now())
        self._intake_done = True
        self._after_change()

    async def _patiently(self, problem: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry an intake step every minute until it succeeds.

        A broken policy file or calendar must not lose the case: it waits, visibly in
        its current details, for operations to fix the file, then carries on. A failed
        local activity reaches the workflow as ActivityError or as the activity's own
        ApplicationError, so both are caught.
        """
        while True:
            try:
                return await attempt()
            except (ActivityError, ApplicationError) as err:
                workflow.logger.warning("Intake blocked (%s), retrying in 1 min: %s", problem, err)
                workflow.set_current_details(f"**Intake blocked**: {problem}: {err}")
                await workflow.sleep(timedelta(minutes=1), summary=f"Retry intake: {problem}")

    async def _count_working_days(
        self, start: datetime, days: int, policy: ResolvedPolicy
    ) -> datetime:
        result: DeadlineResult = await workflow.execute_local_activity(
            COMPUTE_DEADLINE.name,
            ComputeDeadlineInput(
                start=start,
                working_days=days,
                timezone=policy.timezone,
                calendar=policy.calendar,
                subdivision=policy.subdivision,
            ),
            result_type=COMPUTE_DEADLINE.result,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=LOCAL_RETRY,
            summary=f"Count {days} working days",
        )
        return result.deadline

    async def _keep_clocks(self) -> None:
        """Sleep until the next clock event or until an action changes the clocks.

        A plain ``asyncio.sleep`` could not be paused or extended; waiting on a
        condition with a timeout re-plans the timer whenever a handler moves a clock.
        """
        while not self._case.finished(now=workflow.now()):
            now = workflow.now()
            event = next_clock_event(self._case)
            wake_at, label = (event.at, event.label) if event else (None, None)
            reopen_until = self._case.state.reopen_until
            # Only while the window is still ahead: once it has passed, waking for it
            # again would spin through a timer every millisecond.
            if (
                reopen_until is not None
                and reopen_until > now
                and (wake_at is None or reopen_until < wake_at)
            ):
                wake_at, label = reopen_until, "Reopen window ends"
            self._clock_changed = False
            timeout = None if wake_at is None else max(wake_at - now, timedelta(milliseconds=1))
            # The timeout is the timer: it ends the wait by raising TimeoutError.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._clock_changed, timeout=timeout, timeout_summary=label
                )
            fire_due(self._case, now=workflow.now())
            self._after_change()

    # --- effects: activities that act on the outside world -------------------------

    def _effects_pending(self) -> bool:
        unprojected = len(self._case.state.timeline) > self._projected_seq
        return bool(self._effects) or unprojected or self._effects_busy or self._projecting

    async def _carry_out_effects(self) -> None:
        """Run queued side effects one at a time, in order.

        Handlers only queue effects, so an update answers as soon as its decision is
        recorded; a failing adapter never blocks an action.
        """
        while True:
            await workflow.wait_condition(lambda: bool(self._effects))
            self._effects_busy = True
            try:
                await self._carry_out(self._effects.popleft())
            finally:
                self._effects_busy = False

    async def _keep_register(self) -> None:
        """Project the case into the SQL register, apart from the effects queue: a
        department webhook that is down never holds back the register, and a register
        that is down never holds back a customer's notification."""
        while True:
            await workflow.wait_condition(
                lambda: len(self._case.state.timeline) > self._projected_seq
            )
            self._projecting = True
            try:
                await self._project()
            except (ActivityError, ApplicationError) as err:
                # A register down for minutes, or a non-retryable failure: try again
                # later rather than leave the register behind for good.
                workflow.logger.error("Register update failed, retrying in 5 min: %s", err)
                await workflow.sleep(timedelta(minutes=5), summary="Retry register update")
            finally:
                self._projecting = False

    async def _project(self) -> None:
        upto = len(self._case.state.timeline)
        events = self._case.state.timeline[self._projected_seq : upto]
        # A local activity: one short, idempotent SQL write that the worker runs
        # itself, recorded as a marker, with no round trip through the server's task
        # queues. It halves the server's work per action (measured in bench/).
        await workflow.execute_local_activity(
            RECORD_CASE_PROGRESS.name,
            CaseProgressInput(snapshot=self._case.snapshot(), events=events),
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=timedelta(minutes=5),
            retry_policy=EFFECT_RETRY,
            summary="Update case register",
        )
        self._projected_seq = upto

    async def _carry_out(self, effect: Effect) -> None:
        call = activity_call(
            effect, case=self._case.state, intake=self._case.intake, now=workflow.now()
        )
        try:
            await workflow.execute_activity(
                call.activity.name,
                call.input,
                result_type=call.activity.result,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=call.give_up_after,
                retry_policy=EFFECT_RETRY,
                summary=call.summary,
            )
        except ActivityError as err:
            # Recorded, not raised: a failed delivery is a fact on the timeline for
            # staff to follow up, never a reason to fail the case.
            self._case.record(
                "effect_failed",
                at=workflow.now(),
                actor="system",
                detail=str(err.cause or err),
                effect=type(effect).__name__,
            )
            self._after_change()

    # --- after every change --------------------------------------------------------

    def _after_change(self) -> None:
        self._effects.extend(self._case.take_effects())
        self._clock_changed = True
        self._refresh_visibility()

    def _refresh_visibility(self) -> None:
        """Search attributes and current details for supervisors in the Web UI."""
        values = visibility.search_values(self._case)
        if self._publish and values != self._visible:
            workflow.upsert_search_attributes(visibility.updates(values, self._visible))
            self._visible = values
        workflow.set_current_details(visibility.current_details(self._case))

    # --- handler actions: derived from the action table ----------------------------

    def _check(self, rule: AnyRule, input: Action) -> None:
        """Reject before anything is recorded (docs/architecture.md, rule 4)."""
        try:
            rule.check(self._case, input, workflow.now())
        except RejectionError as rejection:
            raise ApplicationError(rejection.reason, type=rejection.kind) from None

    async def _act(self, rule: AnyRule, input: Action) -> CaseState:
        await workflow.wait_condition(lambda: self._intake_done)
        # Re-check: another update may have moved the case while this one waited.
        # Inside the handler only ApplicationError fails the update cleanly.
        self._check(rule, input)
        first_new_event = len(self._case.state.timeline)
        match rule:
            case ActionRule():
                rule.apply(self._case, input, workflow.now())
            case CountingRule():
                policy = self._case.policy
                assert policy is not None
                counted = {
                    key: CountedDeadline(
                        count, await self._count_working_days(count.start, count.days, policy)
                    )
                    for key, count in rule.counts(self._case, input, workflow.now()).items()
                }
                # The case may have moved while the days were counted.
                self._check(rule, input)
                try:
                    rule.apply(self._case, input, workflow.now(), counted)
                except RejectionError as rejection:
                    raise ApplicationError(rejection.reason, type=rejection.kind) from None
        self._case.refresh_summary()
        self._after_change()
        # The answer carries the events this action added, not the whole timeline:
        # every update result is stored in history, and repeating the timeline in each
        # would grow a case's history with the square of its actions.
        state = self._case.state
        return state.model_copy(update={"timeline": state.timeline[first_new_event:]})

    def _update_handlers(self, rule: AnyRule) -> tuple[Any, Any]:
        """The update handler and validator of one action, registered under its name.

        Registered in ``__init__``, so they exist before an update that arrives with
        the first workflow task is handled; the annotations tell the SDK the action's
        input type, so it decodes the payload into it before the validator runs.
        """

        async def handler(input: Action) -> CaseState:
            return await self._act(rule, input)

        def validator(input: Action) -> None:
            # A validator runs before anything is written: a rejection leaves no trace
            # in history beyond the update's own rejected outcome.
            self._check(rule, input)

        handler.__annotations__ = {"input": rule.input, "return": CaseState}
        validator.__annotations__ = {"input": rule.input, "return": None}
        return handler, validator

    @workflow.signal(dynamic=True)
    async def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every handler action is also a signal of the same name, for systems and
        supervisors that only have Temporal (the Web UI's signal form).

        Signals cannot answer, so a malformed or misfitting one is recorded on the
        timeline as rejected: it never fails the workflow task.
        """
        await workflow.wait_condition(lambda: self._intake_done)
        now = workflow.now()
        try:
            if name not in ACTIONS:
                raise RejectionError("UnknownSignal", f"no such action {name!r}")
            rule = ACTIONS[name]
            if len(args) != 1:
                raise RejectionError("InvalidAction", "send exactly one JSON object")
            raw = workflow.payload_converter().from_payload(args[0].payload, dict)
            input = rule.input.model_validate(raw)
            rule.check(self._case, input, now)
        except Exception as err:
            # Anything a sender can get wrong (unknown encoding, not an object, a field
            # the model refuses, a stage that does not fit) is recorded, never raised:
            # an exception escaping a signal handler would fail every workflow task.
            reason = err.reason if isinstance(err, RejectionError) else str(err)[:500]
            self._case.record("signal_rejected", at=now, actor="system", detail=reason, signal=name)
            self._after_change()
            return
        try:
            await self._act(rule, input)
        except ApplicationError as err:
            # Raised from a signal handler it would fail the whole workflow.
            self._case.record(
                "signal_rejected",
                at=workflow.now(),
                actor="system",
                detail=err.message,
                signal=name,
            )
            self._after_change()

    @workflow.query
    def get_state(self) -> CaseState:
        return self._case.state

    @workflow.query
    def get_pending_effects(self) -> int:
        """Side effects queued or under way (notifications, dispatch, ledger): how far
        the outside world is behind the case; 0 once all have been carried out."""
        return len(self._effects) + int(self._effects_busy)

    @workflow.update
    async def confirm_intake(self) -> IntakeReceipt:
        """Answer once intake is done: the clocks a frontline system can promise the
        customer. Only the first caller is told it opened the case."""
        await workflow.wait_condition(lambda: self._intake_done)
        self._receipts += 1
        return IntakeReceipt(first=self._receipts == 1, state=self._case.state)
