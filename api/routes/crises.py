"""Crisis incidents (R8): list them, read one, and act on it as its commander.

Open incidents are found through Temporal visibility (``WorkflowType =
'CrisisIncidentWorkflow'``, the same query a supervisor pastes into the Web UI); each
is then read from its workflow. Every action is an update on the incident workflow,
so it is validated before anything is recorded; an ``Idempotency-Key`` makes a
retried request apply once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from api import engine
from api.auth import Principal
from api.contract import REGISTER, errors
from api.deps import ClientDep, Handler, IdempotencyKey, SettingsDep, Supervisor
from api.errors import (
    ActionRejectedError,
    CaseError,
    CaseNotFoundError,
    EngineUnavailableError,
    temporal_errors,
)
from contracts.case import Text
from contracts.crisis import (
    AcknowledgeIncidentBody,
    AcknowledgeIncidentInput,
    AddMembersInput,
    CloseIncidentInput,
    IncidentOpenInput,
    IncidentState,
    IncidentStatus,
    NotifyCustomersInput,
    ReviewBody,
    RuleKind,
    StatusUpdateBody,
    StatusUpdateInput,
)
from policy.crisis import Severity
from workflows.crisis_incident import CrisisIncidentWorkflow

router = APIRouter(prefix="/v1/crises", tags=["crises"])

INCIDENT_ACTION = errors(400, 401, 403, 404, 409, 422, 503)

LIST_QUERY = "WorkflowType = 'CrisisIncidentWorkflow'"
QUERY_TIMEOUT = timedelta(seconds=10)
# A list names the incidents that do not answer this fast instead of waiting on them.
LIST_QUERY_TIMEOUT = timedelta(seconds=3)
ACTION_TIMEOUT = timedelta(seconds=30)
IncidentId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^crisis-[A-Za-z0-9._-]+$")]
CaseRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class IncidentNotFoundError(CaseError):
    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"incident {incident_id} not found")


class CrisisSummary(BaseModel):
    incident_id: str
    rule: RuleKind
    title: str
    explanation: str
    severity: Severity
    status: IncidentStatus
    member_count: int
    opened_at: datetime
    commander: str | None
    closed_at: datetime | None


class CrisisList(BaseModel):
    query: str
    items: list[CrisisSummary]
    # Incidents visibility lists but whose workflow did not answer (no worker on
    # their task queue right now): named, so none silently disappears.
    unreadable: list[str] = Field(default_factory=list)


class CrisisPublic(IncidentState):
    """The incident, straight from its workflow."""


class CrisisCreate(BaseModel):
    """An incident a supervisor opens by hand, with the cases already known."""

    model_config = ConfigDict(extra="forbid")

    title: Text
    explanation: Text
    severity: Severity = Severity.HIGH
    case_ids: list[CaseRef] = Field(default_factory=list, max_length=5000)


class AttachCases(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_ids: Annotated[list[CaseRef], Field(min_length=1, max_length=5000)]


def _summary(state: IncidentState) -> CrisisSummary:
    return CrisisSummary(
        incident_id=state.incident_id,
        rule=state.rule,
        title=state.title,
        explanation=state.explanation,
        severity=state.severity,
        status=state.status,
        member_count=len(state.members),
        opened_at=state.opened_at,
        commander=state.commander,
        closed_at=state.closed_at,
    )


def _public(state: IncidentState) -> CrisisPublic:
    return CrisisPublic.model_validate(state.model_dump())


async def _read(client: Client, incident_id: str, wait: timedelta = QUERY_TIMEOUT) -> IncidentState:
    try:
        return await engine.query_state(
            client, incident_id, CrisisIncidentWorkflow.get_state, name=incident_id, wait=wait
        )
    except CaseNotFoundError:
        raise IncidentNotFoundError(incident_id) from None


@router.get("", response_model=CrisisList, responses=REGISTER, name="list_crises")
async def list_crises(
    user: Handler,
    client: ClientDep,
    status_filter: Annotated[
        Literal["open", "all"], Query(alias="status", description="open, or all (recent too)")
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CrisisList:
    """Open and recent incidents with their rule, explanation, member count and status."""
    query = LIST_QUERY + (" AND ExecutionStatus = 'Running'" if status_filter == "open" else "")
    ids: list[str] = []
    try:
        async for execution in client.list_workflows(query, limit=limit):
            if execution.status in (
                WorkflowExecutionStatus.RUNNING,
                WorkflowExecutionStatus.COMPLETED,
            ):
                ids.append(execution.id)
    except RPCError as exc:
        raise EngineUnavailableError(f"the visibility query failed: {exc.message}") from exc
    unique = list(dict.fromkeys(ids))
    states = await asyncio.gather(
        *(_read(client, i, LIST_QUERY_TIMEOUT) for i in unique), return_exceptions=True
    )
    read = [s for s in states if isinstance(s, IncidentState)]
    unreadable = [i for i, s in zip(unique, states, strict=True) if isinstance(s, BaseException)]
    items = sorted((_summary(s) for s in read), key=lambda s: s.opened_at, reverse=True)
    return CrisisList(query=query, items=items, unreadable=unreadable)


@router.get(
    "/{incident_id}",
    response_model=CrisisPublic,
    responses=errors(401, 403, 404, 422, 503),
    name="read_crisis",
)
async def read_crisis(incident_id: IncidentId, user: Handler, client: ClientDep) -> CrisisPublic:
    return _public(await _read(client, incident_id))


@router.post(
    "",
    response_model=CrisisPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 409, 422, 503),
    name="open_crisis",
)
async def open_crisis(
    body: CrisisCreate, user: Supervisor, client: ClientDep, settings: SettingsDep
) -> CrisisPublic:
    """A supervisor opens an incident by hand and attaches the cases known so far."""
    incident_id = f"crisis-manual-{uuid.uuid4().hex[:12]}"
    opening = IncidentOpenInput(
        incident_id=incident_id,
        key=f"manual:{incident_id}",
        rule=RuleKind.MANUAL,
        title=body.title,
        explanation=body.explanation,
        severity=body.severity,
        opened_by=user.user,
    )
    async with temporal_errors(incident_id):
        await client.start_workflow(
            CrisisIncidentWorkflow.run,
            opening,
            id=incident_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal="add_members",
            start_signal_args=[AddMembersInput(case_ids=body.case_ids, actor=user.user)],
            static_summary=body.title[:200],
            static_details=body.explanation,
        )
    return _public(await _read(client, incident_id))


async def _act(
    client: Client,
    incident_id: str,
    update: Any,
    action: BaseModel,
    key: str | None,
    user: Principal,
) -> CrisisPublic:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(incident_id)
    update_id = None if key is None else f"{update.__name__}:{user.user}:{key}"
    try:
        async with temporal_errors(incident_id):
            async with asyncio.timeout(ACTION_TIMEOUT.total_seconds()):
                await handle.execute_update(update, action, id=update_id)
    except CaseNotFoundError:
        # NOT_FOUND is also the answer for an update sent to a completed workflow.
        try:
            await handle.describe()
        except RPCError:
            raise IncidentNotFoundError(incident_id) from None
        raise ActionRejectedError(f"incident {incident_id} is closed") from None
    # The update's answer leaves out the members; the query has them.
    return _public(await _read(client, incident_id))


@router.post(
    "/{incident_id}/acknowledge",
    response_model=CrisisPublic,
    responses=INCIDENT_ACTION,
    name="acknowledge_crisis",
)
async def acknowledge(
    incident_id: IncidentId,
    user: Supervisor,
    client: ClientDep,
    body: Annotated[AcknowledgeIncidentBody | None, Body()] = None,
    key: IdempotencyKey = None,
) -> CrisisPublic:
    """The caller takes command of the incident; stops the acknowledgement clock."""
    note = (body or AcknowledgeIncidentBody()).note
    action = AcknowledgeIncidentInput(actor=user.user, note=note)
    return await _act(client, incident_id, CrisisIncidentWorkflow.acknowledge, action, key, user)


@router.post(
    "/{incident_id}/updates",
    response_model=CrisisPublic,
    responses=INCIDENT_ACTION,
    name="post_crisis_update",
)
async def post_update(
    incident_id: IncidentId,
    body: StatusUpdateBody,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CrisisPublic:
    """A status update; the next one is due at the severity's cadence."""
    action = StatusUpdateInput(actor=user.user, message=body.message)
    return await _act(client, incident_id, CrisisIncidentWorkflow.post_update, action, key, user)


@router.post(
    "/{incident_id}/notify-customers",
    response_model=CrisisPublic,
    responses=INCIDENT_ACTION,
    name="notify_crisis_customers",
)
async def notify_customers(
    incident_id: IncidentId, user: Supervisor, client: ClientDep, key: IdempotencyKey = None
) -> CrisisPublic:
    """One holding message to every member's customer (and to later members'), in
    their language, batched and spaced by the rules' pause."""
    action = NotifyCustomersInput(actor=user.user)
    return await _act(
        client, incident_id, CrisisIncidentWorkflow.notify_customers, action, key, user
    )


@router.post(
    "/{incident_id}/cases",
    response_model=CrisisPublic,
    responses=INCIDENT_ACTION,
    name="attach_crisis_cases",
)
async def attach_cases(
    incident_id: IncidentId,
    body: AttachCases,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CrisisPublic:
    """Attach cases by hand; each is linked and shows the incident."""
    action = AddMembersInput(case_ids=body.case_ids, actor=user.user)
    return await _act(client, incident_id, CrisisIncidentWorkflow.attach_cases, action, key, user)


@router.post(
    "/{incident_id}/close",
    response_model=CrisisPublic,
    responses=INCIDENT_ACTION,
    name="close_crisis",
)
async def close(
    incident_id: IncidentId,
    body: ReviewBody,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CrisisPublic:
    """Close with the post-incident review; the impact is computed from the register
    and each member case's owner is told once."""
    action = CloseIncidentInput(actor=user.user, **body.model_dump())
    return await _act(client, incident_id, CrisisIncidentWorkflow.close, action, key, user)
