"""CaseWorkflow: one durable workflow per inquiry or complaint.

The workflow decides; ``CaseFile`` holds the rules; activities act. Its timers are the
plan's deadlines, and its history is the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, assert_never

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities import (
        deadlines,
        departments,
        feedback,
        notifications,
        register,
        remedies,
    )
    from activities.models import (
        CaseProgressInput,
        ComputeDeadlineInput,
        CustomerNotificationInput,
        DeadlineResult,
        DepartmentDispatchInput,
        FeedbackRecordInput,
        RemedyRecordInput,
        ResolvePolicyInput,
        StaffNotificationInput,
    )
    from policy.model import ResolvedPolicy
    from workflows import visibility
    from workflows.case_file import (
        CaseFile,
        DispatchToDepartment,
        Effect,
        NotifyCustomer,
        NotifyStaff,
        RecordFeedback,
        RecordRemedy,
        RejectionError,
    )
    from workflows.messages import (
        AcknowledgeInput,
        Action,
        AnswerInput,
        ApproveRemedyInput,
        AssignOwnerInput,
        CaseOpenInput,
        CaseState,
        CloseInput,
        CustomerUpdateInput,
        DepartmentPlanInput,
        DepartmentResultInput,
        EscalateInput,
        ExtendClockInput,
        FeedbackInput,
        FinalReplyInput,
        IncidentHoldingInput,
        IntakeReceipt,
        InvestigationInput,
        JoinIncidentInput,
        NoteInput,
        PauseClockInput,
        ProposeRemedyInput,
        ReopenInput,
        ResumeClockInput,
        TransferInput,
    )


T = TypeVar("T")


@dataclass(frozen=True)
class ActivityCall:
    """One side effect as an activity call: what runs, with what, shown as what."""

    activity: Callable[..., Any]
    input: BaseModel
    summary: str
    give_up_after: timedelta | None = None


def case_workflow_id(case_id: str) -> str:
    """Workflow ID of a case: the case reference is what staff and customers quote."""
    return f"case-{case_id}"


# Business errors that retrying cannot fix (DESIGN rule 3).
NON_RETRYABLE = [
    "InvalidPolicy",
    "InvalidDepartments",
    "InvalidCalendar",
    "InvalidTimezone",
    "InvalidDeadlineInput",
    "UnknownDepartment",
    "DepartmentRejected",
    "NotificationRejected",
    "RemedyNotApproved",
    "TemplateError",
]
EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=NON_RETRYABLE,
)
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE,
)

# Each handler action: its input model, as the dynamic signal handler must know it.
ACTIONS: dict[str, type[Action]] = {
    "acknowledge": AcknowledgeInput,
    "answer": AnswerInput,
    "transfer": TransferInput,
    "record_department_plan": DepartmentPlanInput,
    "record_department_result": DepartmentResultInput,
    "update_customer": CustomerUpdateInput,
    "assign_owner": AssignOwnerInput,
    "record_investigation": InvestigationInput,
    "propose_remedy": ProposeRemedyInput,
    "decide_remedy": ApproveRemedyInput,
    "send_final_reply": FinalReplyInput,
    "close": CloseInput,
    "reopen": ReopenInput,
    "record_feedback": FeedbackInput,
    "extend_clock": ExtendClockInput,
    "pause_clock": PauseClockInput,
    "resume_clock": ResumeClockInput,
    "escalate": EscalateInput,
    "add_note": NoteInput,
    "join_incident": JoinIncidentInput,
    "send_incident_holding": IncidentHoldingInput,
}


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
                deadlines.resolve_case_policy,
                ResolvePolicyInput(kind=input.kind, priority=input.priority),
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
        self._case.fire_due(now=workflow.now())
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
            deadlines.compute_deadline,
            ComputeDeadlineInput(
                start=start,
                working_days=days,
                timezone=policy.timezone,
                calendar=policy.calendar,
                subdivision=policy.subdivision,
            ),
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
            event = self._case.next_clock_event()
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
            self._case.fire_due(now=workflow.now())
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
            register.record_case_progress,
            CaseProgressInput(snapshot=self._case.snapshot(), events=events),
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=timedelta(minutes=5),
            retry_policy=EFFECT_RETRY,
            summary="Update case register",
        )
        self._projected_seq = upto

    async def _carry_out(self, effect: Effect) -> None:
        call = self._activity_call(effect)
        try:
            await workflow.execute_activity(
                call.activity,
                call.input,
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

    def _activity_call(self, effect: Effect) -> ActivityCall:
        """The activity that carries out ``effect``, with its input and timeline label.

        Deliveries to people give up after an hour and go on the timeline (for a
        department the work item is already in the register, on its work list); the
        ledger and feedback records are the bank's own and retry until written.
        """
        case = self._case.state
        hour = timedelta(hours=1)
        match effect:
            case NotifyCustomer():
                return ActivityCall(
                    notifications.notify_customer,
                    CustomerNotificationInput(
                        notification_id=f"{case.case_id}-{effect.seq}-{effect.template.value}",
                        case_id=case.case_id,
                        customer=self._case.intake.customer,
                        template=effect.template,
                        params=effect.params,
                    ),
                    f"Notify customer: {effect.template.value}",
                    hour,
                )
            case NotifyStaff():
                return ActivityCall(
                    notifications.notify_staff,
                    StaffNotificationInput(
                        notification_id=(
                            f"{case.case_id}-{effect.seq}-{effect.kind.value}-{effect.recipient_role}"
                        ),
                        case_id=case.case_id,
                        kind=effect.kind,
                        clock=effect.clock,
                        recipient_role=effect.recipient_role,
                        recipient_user=effect.recipient_user,
                        department=effect.department,
                        level=effect.level,
                        deadline=effect.deadline,
                        message=effect.message,
                    ),
                    f"Alert {effect.recipient_role}: {effect.kind.value}",
                    hour,
                )
            case DispatchToDepartment():
                return ActivityCall(
                    departments.dispatch_to_department,
                    DepartmentDispatchInput(
                        dispatch_id=f"{case.case_id}-{effect.seq}",
                        case_id=case.case_id,
                        department=effect.department,
                        kind=case.kind,
                        category=case.category,
                        product=case.product,
                        priority=case.priority,
                        description=self._case.intake.description,
                        reason=effect.reason,
                        requested_by=effect.requested_by,
                        requested_at=workflow.now(),
                    ),
                    f"Send to department {effect.department}",
                    hour,
                )
            case RecordRemedy():
                return ActivityCall(
                    remedies.record_remedy,
                    RemedyRecordInput(
                        case_id=case.case_id, customer_id=case.customer_id, remedy=effect.remedy
                    ),
                    f"Record remedy {effect.remedy.remedy_id} in the ledger",
                )
            case RecordFeedback():
                return ActivityCall(
                    feedback.record_feedback,
                    FeedbackRecordInput(
                        feedback_id=effect.feedback_id,
                        case_id=case.case_id,
                        kind=case.kind,
                        channel=case.channel,
                        category=case.category,
                        owner=case.owner,
                        score=effect.feedback.score,
                        comment=effect.feedback.comment,
                        at=effect.feedback.at,
                    ),
                    "Record customer feedback",
                )
            case _:
                assert_never(effect)

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

    # --- handler plumbing ----------------------------------------------------------

    def _validate(self, action: str, input: Action) -> None:
        """Reject before anything is recorded (DESIGN rule 4)."""
        try:
            self._case.check(action, input, now=workflow.now())
        except RejectionError as rejection:
            raise ApplicationError(rejection.reason, type=rejection.kind) from None

    async def _act(self, action: str, input: Action) -> CaseState:
        await workflow.wait_condition(lambda: self._intake_done)
        # Re-check: another update may have moved the case while this one waited.
        # Inside the handler only ApplicationError fails the update cleanly.
        self._validate(action, input)
        first_new_event = len(self._case.state.timeline)
        now = workflow.now()
        policy = self._case.policy
        assert policy is not None
        if isinstance(input, ExtendClockInput) and input.working_days is not None:
            deadline = self._case.state.clocks[input.clock].deadline
            assert deadline is not None
            # The deadline is the midnight that ends the last working day allowed;
            # counting from the instant before it keeps that day from counting as
            # the day of receipt.
            start = deadline - timedelta(microseconds=1)
            new_deadline = await self._count_working_days(start, input.working_days, policy)
            self._validate(action, input)  # the case may have moved during the count
            if self._case.state.clocks[input.clock].deadline != deadline:
                raise ApplicationError(
                    f"clock {input.clock.value} changed while its extension was counted;"
                    " send the extension again",
                    type="ActionRejected",
                )
            self._case.extend_to(input, new_deadline, now=workflow.now())
        elif isinstance(input, ReopenInput):
            # Count the working-day deadlines first, so no query or update ever sees
            # a reopened case without its clocks.
            restart = {
                name: await self._count_working_days(now, rule.working_days, policy)
                for name in self._case.intake_clocks()
                if (rule := policy.clocks[name]).working_days is not None
            }
            self._validate(action, input)
            now = workflow.now()
            self._case.apply(action, input, now=now)
            for name, deadline in restart.items():
                self._case.start_clock(name, now=now, deadline=deadline)
        else:
            self._case.apply(action, input, now=now)
        self._after_change()
        # The answer carries the events this action added, not the whole timeline:
        # every update result is stored in history, and repeating the timeline in each
        # would grow a case's history with the square of its actions.
        state = self._case.state
        return state.model_copy(update={"timeline": state.timeline[first_new_event:]})

    @workflow.signal(dynamic=True)
    async def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every handler action is also a signal of the same name, for systems and
        supervisors that only have Temporal (the Web UI's signal form).

        Signals cannot answer, so a malformed or misfitting one is recorded on the
        timeline as rejected: it never fails the workflow task.
        """
        await workflow.wait_condition(lambda: self._intake_done)
        now = workflow.now()
        model = ACTIONS.get(name)
        try:
            if model is None:
                raise RejectionError("UnknownSignal", f"no such action {name!r}")
            if len(args) != 1:
                raise RejectionError("InvalidAction", "send exactly one JSON object")
            raw = workflow.payload_converter().from_payload(args[0].payload, dict)
            input = model.model_validate(raw)
            self._case.check(name, input, now=now)
        except Exception as err:
            # Anything a sender can get wrong (unknown encoding, not an object, a field
            # the model refuses, a stage that does not fit) is recorded, never raised:
            # an exception escaping a signal handler would fail every workflow task.
            reason = err.reason if isinstance(err, RejectionError) else str(err)[:500]
            self._case.record("signal_rejected", at=now, actor="system", detail=reason, signal=name)
            self._after_change()
            return
        try:
            await self._act(name, input)
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

    # --- handler actions: updates (answer with the whole case) ---------------------
    # Each validator runs before anything is written; a rejection leaves no trace in
    # history beyond the update's own rejected outcome.

    @workflow.update
    async def acknowledge(self, input: AcknowledgeInput) -> CaseState:
        return await self._act("acknowledge", input)

    @acknowledge.validator
    def _v_acknowledge(self, input: AcknowledgeInput) -> None:
        self._validate("acknowledge", input)

    @workflow.update
    async def answer(self, input: AnswerInput) -> CaseState:
        return await self._act("answer", input)

    @answer.validator
    def _v_answer(self, input: AnswerInput) -> None:
        self._validate("answer", input)

    @workflow.update
    async def transfer(self, input: TransferInput) -> CaseState:
        return await self._act("transfer", input)

    @transfer.validator
    def _v_transfer(self, input: TransferInput) -> None:
        self._validate("transfer", input)

    @workflow.update
    async def record_department_plan(self, input: DepartmentPlanInput) -> CaseState:
        return await self._act("record_department_plan", input)

    @record_department_plan.validator
    def _v_record_department_plan(self, input: DepartmentPlanInput) -> None:
        self._validate("record_department_plan", input)

    @workflow.update
    async def record_department_result(self, input: DepartmentResultInput) -> CaseState:
        return await self._act("record_department_result", input)

    @record_department_result.validator
    def _v_record_department_result(self, input: DepartmentResultInput) -> None:
        self._validate("record_department_result", input)

    @workflow.update
    async def update_customer(self, input: CustomerUpdateInput) -> CaseState:
        return await self._act("update_customer", input)

    @update_customer.validator
    def _v_update_customer(self, input: CustomerUpdateInput) -> None:
        self._validate("update_customer", input)

    @workflow.update
    async def assign_owner(self, input: AssignOwnerInput) -> CaseState:
        return await self._act("assign_owner", input)

    @assign_owner.validator
    def _v_assign_owner(self, input: AssignOwnerInput) -> None:
        self._validate("assign_owner", input)

    @workflow.update
    async def record_investigation(self, input: InvestigationInput) -> CaseState:
        return await self._act("record_investigation", input)

    @record_investigation.validator
    def _v_record_investigation(self, input: InvestigationInput) -> None:
        self._validate("record_investigation", input)

    @workflow.update
    async def propose_remedy(self, input: ProposeRemedyInput) -> CaseState:
        return await self._act("propose_remedy", input)

    @propose_remedy.validator
    def _v_propose_remedy(self, input: ProposeRemedyInput) -> None:
        self._validate("propose_remedy", input)

    @workflow.update
    async def decide_remedy(self, input: ApproveRemedyInput) -> CaseState:
        return await self._act("decide_remedy", input)

    @decide_remedy.validator
    def _v_decide_remedy(self, input: ApproveRemedyInput) -> None:
        self._validate("decide_remedy", input)

    @workflow.update
    async def send_final_reply(self, input: FinalReplyInput) -> CaseState:
        return await self._act("send_final_reply", input)

    @send_final_reply.validator
    def _v_send_final_reply(self, input: FinalReplyInput) -> None:
        self._validate("send_final_reply", input)

    @workflow.update
    async def close(self, input: CloseInput) -> CaseState:
        return await self._act("close", input)

    @close.validator
    def _v_close(self, input: CloseInput) -> None:
        self._validate("close", input)

    @workflow.update
    async def reopen(self, input: ReopenInput) -> CaseState:
        return await self._act("reopen", input)

    @reopen.validator
    def _v_reopen(self, input: ReopenInput) -> None:
        self._validate("reopen", input)

    @workflow.update
    async def record_feedback(self, input: FeedbackInput) -> CaseState:
        return await self._act("record_feedback", input)

    @record_feedback.validator
    def _v_record_feedback(self, input: FeedbackInput) -> None:
        self._validate("record_feedback", input)

    @workflow.update
    async def extend_clock(self, input: ExtendClockInput) -> CaseState:
        return await self._act("extend_clock", input)

    @extend_clock.validator
    def _v_extend_clock(self, input: ExtendClockInput) -> None:
        self._validate("extend_clock", input)

    @workflow.update
    async def pause_clock(self, input: PauseClockInput) -> CaseState:
        return await self._act("pause_clock", input)

    @pause_clock.validator
    def _v_pause_clock(self, input: PauseClockInput) -> None:
        self._validate("pause_clock", input)

    @workflow.update
    async def resume_clock(self, input: ResumeClockInput) -> CaseState:
        return await self._act("resume_clock", input)

    @resume_clock.validator
    def _v_resume_clock(self, input: ResumeClockInput) -> None:
        self._validate("resume_clock", input)

    @workflow.update
    async def escalate(self, input: EscalateInput) -> CaseState:
        return await self._act("escalate", input)

    @escalate.validator
    def _v_escalate(self, input: EscalateInput) -> None:
        self._validate("escalate", input)

    @workflow.update
    async def add_note(self, input: NoteInput) -> CaseState:
        return await self._act("add_note", input)

    @add_note.validator
    def _v_add_note(self, input: NoteInput) -> None:
        self._validate("add_note", input)

    # --- crisis incidents (R8): sent by the incident workflow's activities ----------

    @workflow.update
    async def join_incident(self, input: JoinIncidentInput) -> CaseState:
        return await self._act("join_incident", input)

    @join_incident.validator
    def _v_join_incident(self, input: JoinIncidentInput) -> None:
        self._validate("join_incident", input)

    @workflow.update
    async def send_incident_holding(self, input: IncidentHoldingInput) -> CaseState:
        return await self._act("send_incident_holding", input)

    @send_incident_holding.validator
    def _v_send_incident_holding(self, input: IncidentHoldingInput) -> None:
        self._validate("send_incident_holding", input)
