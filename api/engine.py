"""The API's side of the case workflow: open a case, read it, apply an action.

Every write goes to the workflow as an update, so it is validated before anything is
recorded and applied exactly once; the API itself stores nothing, so an error at any
point leaves nothing half-done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import (
    ActionRejectedError,
    CaseClosedError,
    CaseNotFoundError,
    EngineUnavailableError,
    temporal_errors,
)
from api.ids import case_id_for_key, random_case_id
from contracts.actions import Action, ActionName
from contracts.case import CaseOpenInput, CaseState, case_workflow_id
from workflows import visibility
from workflows.case import CaseWorkflow

# How long a request waits for the workflow: an action normally completes within one
# workflow task; past this the caller gets 504 and retries with its Idempotency-Key.
ACTION_TIMEOUT = timedelta(seconds=30)
QUERY_TIMEOUT = timedelta(seconds=10)
R = TypeVar("R")
# Candidates a keyed intake walks before giving up (each collision is ~1 in 10^12).
KEYED_ATTEMPTS = 8
RANDOM_ATTEMPTS = 8


def _same_intake(state: CaseState, intake: CaseOpenInput) -> bool:
    """Whether the case at a derived ID is this intake (a retry) or another one that
    happened to hash to the same short reference."""
    return (
        state.opened_by == intake.opened_by
        and state.kind == intake.kind
        and state.channel == intake.channel
        and state.customer_id == intake.customer.id
        and state.category == intake.category
        and state.product == intake.product
        and state.priority == intake.priority
    )


async def _start_or_join(
    client: Client, *, task_queue: str, intake: CaseOpenInput
) -> tuple[CaseState, bool]:
    """Update-with-start: start the case unless its workflow exists, then wait for
    intake. The workflow answers ``first`` to exactly one caller, however many race."""
    start = WithStartWorkflowOperation(
        CaseWorkflow.run,
        intake,
        id=case_workflow_id(intake.case_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A case's ID is never reused: a closed case's workflow stays the case.
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=visibility.static_summary(intake),
        static_details=visibility.static_details(intake),
        search_attributes=visibility.initial_search_attributes(intake),
    )
    try:
        async with asyncio.timeout(ACTION_TIMEOUT.total_seconds()):
            receipt = await client.execute_update_with_start_workflow(
                CaseWorkflow.confirm_intake,
                start_workflow_operation=start,
                id=f"intake-{uuid.uuid4()}",
            )
    except WorkflowAlreadyStartedError:
        # The workflow of that ID has completed: the case exists, closed for good.
        return await get_state(client, intake.case_id), False
    return receipt.state, receipt.first


async def open_case(
    client: Client,
    *,
    task_queue: str,
    intake: CaseOpenInput,
    idempotency_key: str | None,
) -> tuple[CaseState, bool]:
    """Open a case, or find the one a previous attempt with this key opened.

    Returns the case and whether this call opened it.
    """
    for attempt in range(KEYED_ATTEMPTS if idempotency_key else RANDOM_ATTEMPTS):
        case_id = (
            case_id_for_key(intake.opened_by, idempotency_key, attempt)
            if idempotency_key
            else random_case_id()
        )
        candidate = intake.model_copy(update={"case_id": case_id})
        async with temporal_errors(case_id):
            state, first = await _start_or_join(client, task_queue=task_queue, intake=candidate)
        if first:
            return state, True
        if idempotency_key and _same_intake(state, candidate):
            return state, False
        # Someone else's case holds this reference: walk on to the next candidate.
    if idempotency_key:
        # Every candidate of this key holds another intake: the key was reused for one
        # different intake after another, and no retry will find it a free reference.
        raise ActionRejectedError(
            f"this Idempotency-Key already opened {KEYED_ATTEMPTS} other cases; "
            "use a new key for a new intake"
        )
    raise EngineUnavailableError("could not find a free case reference; try again")


async def query_state(
    client: Client,
    workflow_id: str,
    query: Callable[[Any], R],
    *,
    name: str,
    wait: timedelta = QUERY_TIMEOUT,
) -> R:
    """A workflow's state from its query within ``wait``, Temporal's errors translated
    for ``name`` (a case, an incident, an improvement action): one place for every
    read of a live workflow."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    async with temporal_errors(name, reading=True):
        async with asyncio.timeout(wait.total_seconds()):
            state: R = await handle.query(query, rpc_timeout=wait)
            return state


async def get_state(client: Client, case_id: str) -> CaseState:
    """The live case from the workflow's ``get_state`` query."""
    return await query_state(
        client, case_workflow_id(case_id), CaseWorkflow.get_state, name=case_id
    )


async def _is_closed(client: Client, case_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(case_workflow_id(case_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status != WorkflowExecutionStatus.RUNNING


async def apply_action(
    client: Client,
    case_id: str,
    name: ActionName,
    action: Action,
    *,
    update_id: str | None,
) -> CaseState:
    """Send one handler action as the update of its name and return the case after it.

    ``update_id`` (from the request's ``Idempotency-Key``) makes a retry return the
    first attempt's result instead of applying the action twice.
    """
    handle = client.get_workflow_handle(case_workflow_id(case_id))
    try:
        async with temporal_errors(case_id):
            async with asyncio.timeout(ACTION_TIMEOUT.total_seconds()):
                state: CaseState = await handle.execute_update(
                    name.value, action, id=update_id, result_type=CaseState
                )
                return state
    except CaseNotFoundError:
        # The server answers NOT_FOUND both for no such workflow and for an update
        # sent to one that has completed; only the first is an unknown case.
        async with temporal_errors(case_id, reading=True):
            closed = await _is_closed(client, case_id)
        if closed:
            raise CaseClosedError(case_id) from None
        raise
