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

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.actions import Action
    from contracts.activities import (
        COMPUTE_DEADLINE,
        RECORD_CASE_PROGRESS,
        RESOLVE_CASE_INTAKE,
        RESOLVE_CASE_POLICY,
        ActivityRef,
        CaseProgressInput,
        ComputeDeadlineInput,
        ResolveIntakeInput,
        ResolvePolicyInput,
    )
    from contracts.case import (
        CaseKind,
        CaseOpenInput,
        CaseState,
        IntakeReceipt,
        RegulatoryBand,
    )
    from contracts.policy import ClockName, ClockRule, RegulatorRules, ResolvedPolicy
    from workflows import visibility
    from workflows.case_file import CaseFile, RejectionError
    from workflows.effects import (
        EFFECT_RETRY,
        LOCAL_RETRY,
        Effect,
        activity_call,
        dump_effects,
        load_effects,
    )
    from workflows.rules import (
        ACTIONS,
        BY_SIGNAL,
        ActionRule,
        AnyRule,
        CountedDeadline,
        CountingRule,
    )
    from workflows.rules.clocks import fire_due, next_clock_event


T = TypeVar("T")

# Patch IDs (docs/architecture.md, rule 6): each guards a change of the commands the
# workflow issues, so histories recorded before it replay unchanged.
CONTINUE_AS_NEW = "case-continue-as-new"
BACKOFF_WAITS = "case-backoff-waits"
SIGNALS_LIMITED = "case-signals-for-handlers-only"
SIGNALS_IN_ORDER = "case-signals-in-order"
REGULATOR_CLOCKS = "case-regulator-clocks"
INTAKE_IN_ONE = "case-intake-in-one"
# A run continues as new once its history reaches this share of the policy's budget.
RENEW_AT = 0.8
# Keyed answers carried across runs: enough for any client's retry window.
MAX_ANSWERS = 200


@workflow.defn
class CaseWorkflow:
    """One inquiry or complaint from intake to the end of its survey window."""

    @workflow.init
    def __init__(self, input: CaseOpenInput) -> None:
        # Updates and signals that arrive with the first task run before ``run``:
        # everything they read is set up here.
        resume = input.resume
        if resume is None:
            self._case = CaseFile.open(input, now=workflow.now())
        else:
            self._case = CaseFile.resume(input, resume)
        self._intake_done = resume is not None
        self._receipts = 0 if resume is None else resume.receipts
        # Answers to keyed requests (the API's Idempotency-Key), carried across runs.
        self._answers: dict[str, CaseState] = {} if resume is None else dict(resume.answers)
        self._effects: deque[Effect] = deque(load_effects(resume.effects) if resume else [])
        # The register has every event up to here; a resumed run carries the rest.
        self._projected_seq = self._case.state.timeline_offset
        # Set when a background line fails unexpectedly: the main line then fails the
        # workflow task, visibly (TemporalReportedProblems), instead of running on
        # without notifications or register.
        self._line_failure: str | None = None
        self._renew = False  # the history is full: continue as new once drained
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
        if input.resume is None:
            await self._intake(input)
        else:
            self._refresh_visibility()
        # Two background lines, each guarded: an unexpected exception in one is kept
        # and raised by this main line, which fails the workflow task (retried, and
        # shown as a reported problem) rather than leaving the case half-alive.
        effects = asyncio.create_task(self._guarded("deliveries", self._carry_out_effects))
        projection = asyncio.create_task(self._guarded("register", self._keep_register))
        await self._keep_clocks()
        self._renew = False  # the case is over: let the lines finish their work
        await workflow.wait_condition(lambda: self._line_failure is not None or self._drained())
        self._raise_line_failure()
        effects.cancel()
        projection.cancel()
        return self._case.state

    async def _guarded(self, name: str, line: Callable[[], Awaitable[None]]) -> None:
        try:
            await line()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            workflow.logger.exception("Case line %s failed", name)
            self._line_failure = f"{name} line failed: {type(err).__name__}: {err}"

    def _raise_line_failure(self) -> None:
        if self._line_failure is not None:
            # Not an ApplicationError: this fails the workflow task, not the case.
            raise RuntimeError(self._line_failure)

    def _drained(self) -> bool:
        """No handler running, no effect queued or under way, the register caught up."""
        return workflow.all_handlers_finished() and not self._effects_pending()

    def _quiet(self) -> bool:
        """No handler running and no delivery under way: what is still queued, and the
        events the register may not have yet, are carried into the next run.

        A register write in flight is not waited for: a local activity's result can
        reach the workflow in a different activation on replay than it did live, so a
        decision that waited on it could replay differently. The next run projects
        those events again, which the register stores once."""
        return workflow.all_handlers_finished() and not self._effects_busy

    def _history_full(self) -> bool:
        """Time for a new run: the server suggests it, or the policy's event budget is
        reached. Both come from the history itself, so replay decides the same way."""
        info = workflow.info()
        budget = self._case.policy.history_budget if self._case.policy else 10_000
        # Started at 80 %: draining the queue and the register takes a few more events.
        used = info.get_current_history_length()
        full = info.is_continue_as_new_suggested() or used >= budget * RENEW_AT
        # Guarded: cases recorded before continue-as-new existed replay unchanged.
        return full and workflow.patched(CONTINUE_AS_NEW)

    def _continue_as_new(self) -> None:
        """Carry the whole case into a fresh run (raises; the run ends here)."""
        resume = self._case.carry_over(
            projected_seq=self._projected_seq,
            effects=dump_effects(list(self._effects)),
            receipts=self._receipts,
            answers=self._answers,
        )
        workflow.continue_as_new(self._case.intake.model_copy(update={"resume": resume}))

    async def _intake(self, input: CaseOpenInput) -> None:
        """Resolve the policy and start the receipt clocks; in local activities so the
        results land in history and replay never re-reads files or calendars."""
        start = self._case.state.opened_at
        clocks = self._case.intake_clocks()
        counted: dict[ClockName, datetime] = {}
        # Guarded: cases opened before resolved the policy and counted each working-day
        # clock in local activities of their own, one after the other.
        if workflow.patched(INTAKE_IN_ONE):
            resolution = await self._patiently(
                "policy and deadlines not resolved",
                lambda: self._intake_step(
                    RESOLVE_CASE_INTAKE,
                    ResolveIntakeInput(
                        kind=input.kind, priority=input.priority, start=start, clocks=clocks
                    ),
                    "Resolve deadline policy and intake deadlines",
                ),
            )
            policy = resolution.policy
            counted = {name: result.deadline for name, result in resolution.deadlines.items()}
        else:
            policy = await self._patiently(
                "policy not resolved",
                lambda: self._intake_step(
                    RESOLVE_CASE_POLICY,
                    ResolvePolicyInput(kind=input.kind, priority=input.priority),
                    "Resolve deadline policy",
                ),
            )
        self._case.policy = policy
        self._case.state.policy_version = policy.version
        for name in clocks:
            deadline = self._case.duration_deadline(name, start=start) or counted.get(name)
            if deadline is None:
                days = policy.clocks[name].working_days
                assert days is not None
                deadline = await self._patiently(
                    "working days not counted",
                    functools.partial(self._count_working_days, start, days, policy),
                )
            self._case.start_clock(name, now=start, deadline=deadline)
        regulator = policy.regulator
        # Guarded, and only asked under a regulator profile: cases under the plan alone
        # (every stored history) issue the same commands as before.
        if (
            regulator is not None
            and self._case.kind is CaseKind.COMPLAINT
            and workflow.patched(REGULATOR_CLOCKS)
        ):
            await self._start_regulator(regulator, start, policy)
        self._case.complete_intake(now=workflow.now())
        fire_due(self._case, now=workflow.now())
        self._intake_done = True
        self._after_change()

    async def _start_regulator(
        self, regulator: RegulatorRules, start: datetime, policy: ResolvedPolicy
    ) -> None:
        """The regulator's clock beside the bank's own (R9), and the return's band
        edges, all counted now: a later calendar overlay never moves them."""
        state = self._case.state
        regime = regulator.regime_for(state.product, state.category)
        limit = await self._deadline_of(regime.limit, start, policy)
        bands = [
            RegulatoryBand(
                name=band.name, deadline=await self._deadline_of(band.within, start, policy)
            )
            for band in regulator.bands
        ]
        self._case.start_regulator(regulator, regime, bands, now=start, deadline=limit)

    async def _deadline_of(
        self, rule: ClockRule, start: datetime, policy: ResolvedPolicy
    ) -> datetime:
        if rule.duration is not None:
            return start + rule.duration
        assert rule.working_days is not None
        return await self._patiently(
            "working days not counted",
            functools.partial(self._count_working_days, start, rule.working_days, policy),
        )

    async def _patiently(self, problem: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry an intake step every minute until it succeeds.

        A broken policy file or calendar must not lose the case: it waits, visibly in
        its current details, for operations to fix the file, then carries on. A failed
        local activity reaches the workflow as ActivityError or as the activity's own
        ApplicationError, so both are caught.
        """
        failures = 0
        while True:
            try:
                return await attempt()
            except (ActivityError, ApplicationError) as err:
                wait = self._backoff(timedelta(minutes=1), failures)
                failures += 1
                workflow.logger.warning(
                    "Intake blocked (%s), retrying in %s: %s", problem, wait, err
                )
                workflow.set_current_details(f"**Intake blocked**: {problem}: {err}")
                await workflow.sleep(wait, summary=f"Retry intake: {problem}")

    @staticmethod
    async def _intake_step(activity: ActivityRef[Any, T], input: BaseModel, summary: str) -> T:
        """One of the local activities that fix a case's policy and deadlines: short,
        retried a few times, then left to ``_patiently`` or the caller."""
        result: T = await workflow.execute_local_activity(
            activity.name,
            input,
            result_type=activity.result,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=LOCAL_RETRY,
            summary=summary,
        )
        return result

    async def _count_working_days(
        self, start: datetime, days: int, policy: ResolvedPolicy
    ) -> datetime:
        result = await self._intake_step(
            COMPUTE_DEADLINE,
            ComputeDeadlineInput.under(policy, start, days),
            f"Count {days} working days",
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
            self._renew = self._history_full()
            # The timeout is the timer: it ends the wait by raising TimeoutError. A case
            # whose history is full pauses its lines and wakes once nothing is under
            # way, to continue as new with what is still queued.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        self._clock_changed
                        or self._line_failure is not None
                        or (self._renew and self._quiet())
                    ),
                    timeout=timeout,
                    timeout_summary=label,
                )
            self._raise_line_failure()
            fire_due(self._case, now=workflow.now())
            self._after_change()
            if self._renew and self._quiet():
                self._continue_as_new()

    # --- effects: activities that act on the outside world -------------------------

    def _effects_pending(self) -> bool:
        unprojected = self._case.state.last_seq > self._projected_seq
        return bool(self._effects) or unprojected or self._effects_busy or self._projecting

    async def _carry_out_effects(self) -> None:
        """Run queued side effects one at a time, in order.

        Handlers only queue effects, so an update answers as soon as its decision is
        recorded; a failing adapter never blocks an action.
        """
        while True:
            # While the case prepares to continue as new, queued effects wait for it.
            await workflow.wait_condition(lambda: bool(self._effects) and not self._renew)
            self._effects_busy = True
            try:
                await self._carry_out(self._effects.popleft())
            finally:
                self._effects_busy = False

    async def _keep_register(self) -> None:
        """Project the case into the SQL register, apart from the effects queue: a
        department webhook that is down never holds back the register, and a register
        that is down never holds back a customer's notification."""
        failures = 0
        while True:
            await workflow.wait_condition(
                lambda: self._case.state.last_seq > self._projected_seq and not self._renew
            )
            self._projecting = True
            try:
                await self._project()
                failures = 0
            except (ActivityError, ApplicationError) as err:
                # A register down for minutes, or a non-retryable failure: try again
                # later rather than leave the register behind for good.
                wait = self._backoff(timedelta(minutes=5), failures)
                failures += 1
                workflow.logger.error("Register update failed, retrying in %s: %s", wait, err)
                await workflow.sleep(wait, summary="Retry register update")
            finally:
                self._projecting = False

    @staticmethod
    def _backoff(first: timedelta, failures: int) -> timedelta:
        """How long a waiting loop sleeps: doubling up to an hour, so an outage of days
        adds a bounded number of events (about 24 a day) to the case's history."""
        if not workflow.patched(BACKOFF_WAITS):
            return first  # cases recorded before the back-off waited a fixed time
        factor: int = 2 ** min(failures, 10)
        return min(first * factor, timedelta(hours=1))

    async def _project(self) -> None:
        state = self._case.state
        upto = state.last_seq
        events = state.timeline[self._projected_seq - state.timeline_offset :]
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
                try:
                    counted = {
                        key: CountedDeadline(
                            count, await self._count_working_days(count.start, count.days, policy)
                        )
                        for key, count in rule.counts(self._case, input, workflow.now()).items()
                    }
                except ActivityError as err:
                    # Only an ApplicationError fails an update cleanly; the count's own
                    # failure would fail the workflow task instead.
                    raise ApplicationError(
                        f"working days could not be counted; try again: {err.cause or err}",
                        type="EngineUnavailable",
                    ) from None
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

    @staticmethod
    def _keyed_update_id() -> str | None:
        """The update ID when the API derived it from an ``Idempotency-Key``
        (``path:user:key``); the SDK's own random IDs are never retried."""
        info = workflow.current_update_info()
        return info.id if info is not None and ":" in info.id else None

    def _update_handlers(self, rule: AnyRule) -> tuple[Any, Any]:
        """The update handler and validator of one action, registered under its name.

        Registered in ``__init__``, so they exist before an update that arrives with
        the first workflow task is handled; the annotations tell the SDK the action's
        input type, so it decodes the payload into it before the validator runs.
        """

        async def handler(input: Action) -> CaseState:
            key = self._keyed_update_id()
            if key is not None and key in self._answers:
                return self._answers[key]  # answered in an earlier run
            answer = await self._act(rule, input)
            if key is not None:
                self._answers[key] = answer
                while len(self._answers) > MAX_ANSWERS:
                    del self._answers[next(iter(self._answers))]
            return answer

        def validator(input: Action) -> None:
            # A validator runs before anything is written: a rejection leaves no trace
            # in history beyond the update's own rejected outcome. A retry of a request
            # answered in an earlier run is not checked again: it gets that answer.
            key = self._keyed_update_id()
            if key is None or key not in self._answers:
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
            # Guarded: cases recorded before this took every action by signal.
            if rule.name not in BY_SIGNAL and workflow.patched(SIGNALS_LIMITED):
                raise RejectionError(
                    "SignalNotAccepted",
                    f"{name} is not taken by signal: use the API, where the caller is"
                    " authenticated; by signal: " + ", ".join(a.value for a in BY_SIGNAL),
                )
            if len(args) != 1:
                raise RejectionError("InvalidAction", "send exactly one JSON object")
            raw = workflow.payload_converter().from_payload(args[0].payload, dict)
            input = rule.input.model_validate(raw)
            # Checked once, in ``_act``, after the wait there: checked here too, a signal
            # right behind another was judged before the one ahead of it was applied.
            if not workflow.patched(SIGNALS_IN_ORDER):
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
            answer = await self._act(rule, input)
        except Exception as err:
            # Whatever fails inside (a rejection after waiting, a working-day count
            # whose activity failed), the signal is recorded as rejected: an
            # ActivityError escaping a signal handler would fail the workflow, and any
            # other exception would fail its task for good.
            if isinstance(err, ApplicationError):
                reason = err.message
            elif isinstance(err, ActivityError):
                reason = f"could not be applied: {err.cause or err}"
            else:
                reason = f"could not be applied: {type(err).__name__}: {err}"
            self._case.record(
                "signal_rejected",
                at=workflow.now(),
                actor="system",
                detail=reason[:500],
                signal=name,
            )
            self._after_change()
            return
        # The timeline says the step came by signal: the actor is the sender's word.
        added = {event.seq for event in answer.timeline}
        for event in self._case.state.timeline:
            if event.seq in added:
                event.data["via"] = "signal"

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
