"""Helpers for workflow-logic tests: intake inputs and stand-in side-effect activities.

Stand-ins replace only the activities that touch the outside world (register,
notifications, departments, ledger, feedback), registered under the same names, so
a test can see exactly which effects the workflow asked for. The deadline activities
are the real ones: the clocks' figures come from the real policy and calendar code.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities import deadlines
from contracts.actions import Action, ActionName
from contracts.activities import (
    CaseProgressInput,
    CustomerNotificationInput,
    DeliveryResult,
    DepartmentDispatchInput,
    FeedbackRecordInput,
    LedgerResult,
    RemedyRecordInput,
    StaffNotificationInput,
)
from contracts.case import CaseKind, CaseOpenInput, CaseState, Customer, Priority, case_workflow_id
from workflows.case import CaseWorkflow


def intake(
    case_id: str,
    kind: CaseKind = CaseKind.COMPLAINT,
    *,
    received_at: datetime | None = None,
    priority: Priority = Priority.NORMAL,
) -> CaseOpenInput:
    return CaseOpenInput(
        case_id=case_id,
        kind=kind,
        channel="mobile_banking",
        customer=Customer(id="CUST-1", name="王小明", phone="+86 138 0000 0000", email="w@e.cn"),
        category="card_fees",
        product="platinum_card",
        priority=priority,
        description="Annual fee charged although waived",
        opened_by="frontline-app",
        received_at=received_at,
    )


class EffectLog:
    """Stand-ins for the side-effect activities, recording what they were asked."""

    def __init__(self) -> None:
        self.customer: list[CustomerNotificationInput] = []
        self.staff: list[StaffNotificationInput] = []
        self.dispatches: list[DepartmentDispatchInput] = []
        self.remedies: list[RemedyRecordInput] = []
        self.feedback: list[FeedbackRecordInput] = []
        self.progress: list[CaseProgressInput] = []

    def activities(self) -> list[Callable[..., Any]]:
        log = self

        @activity.defn(name="record_case_progress")
        async def record_case_progress(input: CaseProgressInput) -> None:
            log.progress.append(input)

        @activity.defn(name="dispatch_to_department")
        async def dispatch_to_department(input: DepartmentDispatchInput) -> DeliveryResult:
            log.dispatches.append(input)
            return DeliveryResult(via="register")

        @activity.defn(name="notify_customer")
        async def notify_customer(input: CustomerNotificationInput) -> DeliveryResult:
            log.customer.append(input)
            return DeliveryResult(via="outbox")

        @activity.defn(name="notify_staff")
        async def notify_staff(input: StaffNotificationInput) -> DeliveryResult:
            log.staff.append(input)
            return DeliveryResult(via="outbox")

        @activity.defn(name="record_remedy")
        async def record_remedy(input: RemedyRecordInput) -> LedgerResult:
            log.remedies.append(input)
            return LedgerResult(recorded=True, amount=input.remedy.amount)

        @activity.defn(name="record_feedback")
        async def record_feedback(input: FeedbackRecordInput) -> None:
            log.feedback.append(input)

        return [
            deadlines.resolve_case_policy,
            deadlines.compute_deadline,
            deadlines.resolve_case_intake,
            record_case_progress,
            dispatch_to_department,
            notify_customer,
            notify_staff,
            record_remedy,
            record_feedback,
        ]

    def projected_upto(self) -> int:
        """The last timeline event the register has been sent (0 before the first)."""
        return max((e.seq for p in self.progress for e in p.events), default=0)

    def templates(self) -> list[str]:
        return [n.template.value for n in self.customer]

    def alerts(self) -> list[tuple[str, str | None, str]]:
        return [
            (s.kind.value, s.clock.value if s.clock else None, s.recipient_role) for s in self.staff
        ]


def case_worker(client: Client, task_queue: str, log: EffectLog) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CaseWorkflow],
        activities=log.activities(),
        activity_executor=ThreadPoolExecutor(max_workers=4),
    )


async def open_case(
    client: Client, task_queue: str, input: CaseOpenInput
) -> WorkflowHandle[CaseWorkflow, CaseState]:
    return await client.start_workflow(
        CaseWorkflow.run, input, id=case_workflow_id(input.case_id), task_queue=task_queue
    )


async def execute_action(
    handle: WorkflowHandle[Any, Any], name: ActionName, input: Action, *, id: str | None = None
) -> CaseState:
    """Send one handler action as the update of its name, as the API does."""
    state: CaseState = await handle.execute_update(name.value, input, id=id, result_type=CaseState)
    return state


async def run_lengths(client: Client, workflow_id: str) -> list[int]:
    """The history length of each run of a workflow, first to last."""
    lengths = []
    history = await client.get_workflow_handle(workflow_id, run_id=None).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    first_run = started.first_execution_run_id
    run_id: str | None = first_run
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return lengths
