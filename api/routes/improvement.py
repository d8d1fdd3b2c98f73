"""Improvement actions (R6.3): open one, follow it, close it with its outcome.

Each action is an ``ImprovementAction`` workflow with its own clocks (reminder,
overdue, escalation); the register holds its projection for lists and reports. The
overdue ones are a visibility query a supervisor can paste into the Web UI.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api import engine
from api.auth import Principal, Role
from api.contract import errors
from api.deps import ClientDep, Handler, IdempotencyKey, SessionDep, SettingsDep, Supervisor
from api.errors import (
    ActionRejectedError,
    CaseError,
    CaseNotFoundError,
    EngineUnavailableError,
    temporal_errors,
)
from contracts.case import Name, Text
from contracts.improvement import (
    ActionNoteInput,
    ActionSource,
    ActionState,
    ActionStatus,
    ActionTarget,
    CloseActionInput,
    ImprovementActionInput,
    LinkTrainingInput,
    PolicyProposal,
    TrainingRequest,
)
from policy.reports import report_rules
from settings.app import Settings
from store.improvement import action_state, list_actions, policy_proposals
from workflows.improvement_action import ImprovementActionWorkflow, initial_search_attributes

router = APIRouter(prefix="/v1/improvement-actions", tags=["improvement actions"])

OVERDUE_QUERY = (
    "WorkflowType = 'ImprovementAction' AND ImprovementOverdue = true"
    " AND ExecutionStatus = 'Running'"
)
ACTION_TIMEOUT = timedelta(seconds=30)
ActionId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^action-[A-Za-z0-9._-]+$")]


class ActionNotFoundError(CaseError):
    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, action_id: str) -> None:
        super().__init__(f"no improvement action {action_id}")


class ActionCreate(BaseModel):
    """A new action: where it comes from, who owns it, by when, and what it must
    achieve in the register's figures."""

    model_config = ConfigDict(extra="forbid")

    title: Text
    description: Text | None = None
    source: ActionSource = ActionSource.SUPERVISOR
    # The finding (``quarterly/2026-Q4/f-...``), the note or the suggestion it came from.
    source_ref: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    owner: Name
    due: AwareDatetime
    target: ActionTarget
    training: TrainingRequest | None = None
    policy_proposal: PolicyProposal | None = None


class ActionNoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Text


class ActionCloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str | None = Field(default=None, max_length=4000)


class ActionList(BaseModel):
    query: str | None = None
    items: list[ActionState]


def _invalid(loc: tuple[str, ...], message: str, value: Any) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": loc, "msg": message, "type": "value_error", "input": value}]
    )


def check_new_action(body: ActionCreate) -> None:
    """What pydantic cannot see alone: a due date ahead, a measurable target, a source."""
    if body.due <= datetime.now(UTC):
        raise _invalid(("body", "due"), "the due date must be in the future", str(body.due))
    problem = body.target.check()
    if problem is not None:
        field, _, message = problem.partition(": ")
        raise _invalid(("body", *field.split(".")), message, body.target.model_dump())
    if body.source is not ActionSource.SUPERVISOR and body.source_ref is None:
        raise _invalid(
            ("body", "source_ref"),
            f"an action from a {body.source.value} names it in source_ref",
            None,
        )


async def start_action(
    client: Client, settings: Settings, body: ActionCreate, by: str, action_id: str | None = None
) -> ActionState:
    """Start the action's workflow (the same ID twice starts it once) and read it."""
    check_new_action(body)
    people = report_rules(settings.reports_file).people
    action_id = action_id or f"action-{uuid.uuid4().hex[:12]}"
    start = ImprovementActionInput(
        action_id=action_id,
        created_by=by,
        remind_before=timedelta(days=people.action_remind_days),
        escalate_every=timedelta(days=people.action_escalate_days),
        escalation_ladder=people.action_escalation_ladder,
        **body.model_dump(),
    )
    try:
        handle = await client.start_workflow(
            ImprovementActionWorkflow.run,
            start,
            id=action_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=body.title[:200],
            search_attributes=initial_search_attributes(start),
        )
    except RPCError as err:
        raise EngineUnavailableError(f"could not start the action: {err.message}") from err
    return await _query(client, handle.id)


async def _query(client: Client, action_id: str) -> ActionState:
    try:
        return await engine.query_state(
            client,
            action_id,
            ImprovementActionWorkflow.get_state,
            name=action_id,
            wait=ACTION_TIMEOUT,
        )
    except CaseNotFoundError:
        raise ActionNotFoundError(action_id) from None


async def act_on(
    client: Client, action_id: str, update: Any, action: BaseModel, key: str | None, user: str
) -> ActionState:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(action_id)
    update_id = None if key is None else f"{update.__name__}:{user}:{key}"
    try:
        async with temporal_errors(action_id):
            async with asyncio.timeout(ACTION_TIMEOUT.total_seconds()):
                state: ActionState = await handle.execute_update(
                    update, action, id=update_id, result_type=ActionState
                )
                return state
    except CaseNotFoundError:
        # NOT_FOUND is also the answer for an update sent to a completed workflow.
        try:
            await handle.describe()
        except RPCError:
            raise ActionNotFoundError(action_id) from None
        raise ActionRejectedError(f"improvement action {action_id} is closed") from None


async def _owner_or_supervisor(
    session: SessionDep, client: Client, action_id: str, user: Principal
) -> ActionState:
    """The action (from the register, or from its workflow while the first projection
    is on its way); 403 unless the caller owns it or is a supervisor."""
    state = action_state(session, action_id)
    if state is None:
        state = await _query(client, action_id)
    if user.role is not Role.SUPERVISOR and state.owner != user.user:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"only a supervisor or {state.owner} may do this"
        )
    return state


@router.post(
    "",
    response_model=ActionState,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 409, 422, 503),
    name="open_improvement_action",
)
async def open_action(
    body: ActionCreate, user: Supervisor, client: ClientDep, settings: SettingsDep
) -> ActionState:
    """A supervisor opens an action from a finding, a proposal or their own initiative."""
    return await start_action(client, settings, body, user.user)


@router.get(
    "",
    response_model=ActionList,
    responses=errors(401, 403, 422, 503),
    name="list_improvement_actions",
)
async def list_improvement_actions(
    session: SessionDep,
    client: ClientDep,
    user: Supervisor,
    status_filter: Annotated[ActionStatus | None, Query(alias="status")] = None,
    owner: str | None = None,
    overdue: Annotated[bool, Query(description="the Web UI's overdue list")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ActionList:
    """The register's actions; ``overdue=true`` asks Temporal visibility instead."""
    if not overdue:
        return ActionList(
            items=list_actions(session, status=status_filter, owner=owner, limit=limit)
        )
    ids: list[str] = []
    try:
        async for execution in client.list_workflows(OVERDUE_QUERY, limit=limit):
            ids.append(execution.id)
    except RPCError as exc:
        raise EngineUnavailableError(f"the visibility query failed: {exc.message}") from exc
    # The register has each action's details; visibility may be a moment ahead of its
    # projection, and says it is overdue.
    items = []
    for action_id in dict.fromkeys(ids):
        state = action_state(session, action_id)
        if state is not None and state.status is not ActionStatus.CLOSED:
            items.append(state.model_copy(update={"status": ActionStatus.OVERDUE}))
    return ActionList(query=OVERDUE_QUERY, items=items)


class PolicyProposalLine(BaseModel):
    action_id: str
    title: str
    status: ActionStatus
    proposed_by: str
    proposed_at: datetime
    proposal: PolicyProposal


@router.get(
    "/policy-proposals",
    response_model=list[PolicyProposalLine],
    responses=errors(401, 403, 422),
    name="list_policy_proposals",
)
def list_policy_proposals(
    session: SessionDep, user: Supervisor, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[PolicyProposalLine]:
    """Proposed policy file revisions, for operations to review and apply (the running
    policy changes only by a new file, never by an action)."""
    return [
        PolicyProposalLine(
            action_id=s.action_id,
            title=s.title,
            status=s.status,
            proposed_by=s.created_by,
            proposed_at=s.created_at,
            proposal=s.policy_proposal,
        )
        for s in policy_proposals(session, limit=limit)
        if s.policy_proposal is not None
    ]


@router.get(
    "/{action_id}",
    response_model=ActionState,
    responses=errors(401, 403, 404, 422, 503),
    name="read_improvement_action",
)
async def read_action(
    action_id: ActionId, session: SessionDep, client: ClientDep, user: Handler
) -> ActionState:
    """The action as its workflow holds it (its owner or a supervisor)."""
    await _owner_or_supervisor(session, client, action_id, user)
    return await _query(client, action_id)


@router.post(
    "/{action_id}/notes",
    response_model=ActionState,
    responses=errors(400, 401, 403, 404, 409, 422, 503),
    name="add_improvement_action_note",
)
async def add_note(
    action_id: ActionId,
    body: ActionNoteBody,
    session: SessionDep,
    client: ClientDep,
    user: Handler,
    key: IdempotencyKey = None,
) -> ActionState:
    """A progress note from the owner or a supervisor."""
    await _owner_or_supervisor(session, client, action_id, user)
    action = ActionNoteInput(actor=user.user, text=body.text)
    return await act_on(
        client, action_id, ImprovementActionWorkflow.add_note, action, key, user.user
    )


@router.post(
    "/{action_id}/close",
    response_model=ActionState,
    responses=errors(400, 401, 403, 404, 409, 422, 503),
    name="close_improvement_action",
)
async def close_action(
    action_id: ActionId,
    body: ActionCloseBody,
    session: SessionDep,
    client: ClientDep,
    user: Handler,
    key: IdempotencyKey = None,
) -> ActionState:
    """Close with the recorded outcome (refused without one); the next month's report
    judges the target."""
    await _owner_or_supervisor(session, client, action_id, user)
    action = CloseActionInput(actor=user.user, outcome=body.outcome)
    return await act_on(client, action_id, ImprovementActionWorkflow.close, action, key, user.user)


async def link_training(client: Client, action_id: str, training_id: str, by: str) -> ActionState:
    action = LinkTrainingInput(actor=by, training_id=training_id)
    return await act_on(
        client, action_id, ImprovementActionWorkflow.link_training, action, f"t-{training_id}", by
    )
