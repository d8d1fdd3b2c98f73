"""ImprovementActionWorkflow: one improvement action with its own clocks (R6.3).

The owner is reminded before the due date; an action still open at its due date is
overdue and climbs the escalation ladder one rung every interval. It closes only with
a recorded outcome (a close without one is a rejected update naming the field). A
training it asks for is linked when a session naming the action is recorded; a
policy change it proposes is kept as a proposed revision for operations to apply.
The register's projection lets the monthly report judge its target after it closes.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import NOTIFY_STAFF, StaffAlertKind, StaffNotificationInput
    from contracts.improvement import (
        RECORD_IMPROVEMENT_ACTION,
        ActionNote,
        ActionNoteInput,
        ActionState,
        ActionStatus,
        CloseActionInput,
        ImprovementActionInput,
        LinkTrainingInput,
    )
    from contracts.search_attributes import (
        IMPROVEMENT_DUE,
        IMPROVEMENT_OVERDUE,
        IMPROVEMENT_STATUS,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
OWNER_ROLE = "action_owner"


def _rejected(reason: str) -> ApplicationError:
    return ApplicationError(reason, type="ActionRejected")


def _invalid(reason: str) -> ApplicationError:
    return ApplicationError(reason, type="InvalidAction")


def initial_search_attributes(input: ImprovementActionInput) -> TypedSearchAttributes:
    """What the action starts with, so a supervisor finds it at once."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(IMPROVEMENT_STATUS, ActionStatus.OPEN.value),
            SearchAttributePair(IMPROVEMENT_OVERDUE, False),
            SearchAttributePair(IMPROVEMENT_DUE, input.due),
        ]
    )


@workflow.defn(name="ImprovementAction")
class ImprovementActionWorkflow:
    @workflow.init
    def __init__(self, input: ImprovementActionInput) -> None:
        self._input = input
        self._state = ActionState(
            action_id=input.action_id,
            title=input.title,
            description=input.description,
            source=input.source,
            source_ref=input.source_ref,
            owner=input.owner,
            due=input.due,
            target=input.target,
            status=ActionStatus.OPEN,
            created_by=input.created_by,
            created_at=workflow.now(),
            training=input.training,
            policy_proposal=input.policy_proposal,
        )
        self._changed = False
        self._recorded = -1
        # Started with its search attributes (the API does): keep them current. An
        # upsert of attributes the server lacks would fail every workflow task.
        self._publish = workflow.info().typed_search_attributes.get(IMPROVEMENT_STATUS) is not None

    @workflow.run
    async def run(self, input: ImprovementActionInput) -> ActionState:
        self._refresh()
        while True:
            if self._state.status is ActionStatus.CLOSED:
                await self._record()
                await workflow.wait_condition(workflow.all_handlers_finished)
                return self._state
            if self._recorded != self._state.version:
                await self._record()
                continue
            due = self._next_due()
            timeout = None if due is None else max(due - workflow.now(), timedelta(milliseconds=1))
            self._changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            await self._fire_due()

    # --- the clocks ----------------------------------------------------------------------

    def _next_due(self) -> datetime | None:
        s, i = self._state, self._input
        if s.status is ActionStatus.CLOSED:
            return None
        if s.reminded_at is None and s.status is ActionStatus.OPEN:
            return s.due - i.remind_before
        if s.status is ActionStatus.OPEN:
            return s.due
        if s.escalation_level < len(i.escalation_ladder):
            return s.due + i.escalate_every * s.escalation_level
        return None

    async def _fire_due(self) -> None:
        s = self._state
        due = self._next_due()
        now = workflow.now()
        if due is None or due > now:
            return
        if s.reminded_at is None and s.status is ActionStatus.OPEN:
            s.reminded_at = now
            await self._alert(
                "reminder",
                StaffAlertKind.WARNING,
                OWNER_ROLE,
                f"Improvement action {s.action_id} is due {s.due.isoformat(timespec='minutes')}:"
                f" {s.title} (target: {s.target.describe()})",
                user=s.owner,
            )
        elif s.status is ActionStatus.OPEN:
            s.status = ActionStatus.OVERDUE
            s.overdue_at = now
            await self._escalate()
        else:
            await self._escalate()
        s.version += 1
        self._refresh()

    async def _escalate(self) -> None:
        s, i = self._state, self._input
        role = i.escalation_ladder[s.escalation_level]
        s.escalation_level += 1
        await self._alert(
            f"overdue-{s.escalation_level}",
            StaffAlertKind.ESCALATION,
            role,
            f"Improvement action {s.action_id} owned by {s.owner} is overdue since"
            f" {s.due.isoformat(timespec='minutes')}; escalated to {role}: {s.title}",
            level=s.escalation_level,
        )

    async def _alert(
        self,
        what: str,
        kind: StaffAlertKind,
        role: str,
        message: str,
        *,
        user: str | None = None,
        level: int = 0,
    ) -> None:
        s = self._state
        await workflow.execute_activity(
            NOTIFY_STAFF.name,
            StaffNotificationInput(
                notification_id=f"{s.action_id}-{what}",
                case_id=s.action_id,
                kind=kind,
                clock=None,
                recipient_role=role,
                recipient_user=user,
                level=level,
                deadline=s.due,
                message=message,
            ),
            result_type=NOTIFY_STAFF.result,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=RETRY,
            summary=f"Alert {role}: {what}",
        )

    async def _record(self) -> None:
        version = self._state.version
        await workflow.execute_activity(
            RECORD_IMPROVEMENT_ACTION.name,
            self._state,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
            summary="Record the action in the register",
        )
        self._recorded = max(self._recorded, version)

    def _close(self, closing: CloseActionInput) -> None:
        s, now = self._state, workflow.now()
        s.status = ActionStatus.CLOSED
        s.outcome = closing.outcome
        s.closed_by = closing.actor
        s.closed_at = now
        s.version += 1
        self._refresh()

    def _refresh(self) -> None:
        s = self._state
        if self._publish:
            workflow.upsert_search_attributes(
                [
                    IMPROVEMENT_STATUS.value_set(s.status.value),
                    IMPROVEMENT_OVERDUE.value_set(s.status is ActionStatus.OVERDUE),
                    IMPROVEMENT_DUE.value_set(s.due),
                ]
            )
        workflow.set_current_details(
            f"**{s.status.value}** · owner {s.owner} · due {s.due.isoformat(timespec='minutes')}"
            f" · target: {s.target.describe()}"
        )

    # --- updates -------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._state.status is ActionStatus.CLOSED:
            raise _rejected(f"improvement action {self._state.action_id} is closed")

    @workflow.update
    def add_note(self, input: ActionNoteInput) -> ActionState:
        s = self._state
        s.notes.append(ActionNote(at=workflow.now(), actor=input.actor, text=input.text))
        s.version += 1
        self._changed = True
        return s

    @add_note.validator
    def _v_add_note(self, input: ActionNoteInput) -> None:
        self._require_open()

    @workflow.update
    def link_training(self, input: LinkTrainingInput) -> ActionState:
        s = self._state
        if input.training_id not in s.training_ids:
            s.training_ids.append(input.training_id)
            s.version += 1
            self._changed = True
        return s

    @link_training.validator
    def _v_link_training(self, input: LinkTrainingInput) -> None:
        self._require_open()

    @workflow.update
    def close(self, input: CloseActionInput) -> ActionState:
        self._close(input)
        self._changed = True
        return self._state

    @close.validator
    def _v_close(self, input: CloseActionInput) -> None:
        self._require_open()
        if input.outcome is None or not input.outcome.strip():
            raise _invalid("outcome: an improvement action closes only with its recorded outcome")

    @workflow.query
    def get_state(self) -> ActionState:
        return self._state
