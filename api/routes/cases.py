"""Cases: open one (R3.1), read it live, list the register (R4.1), find stuck ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api import engine
from api.auth import Role
from api.contract import OPEN_CASE, READ_CASE, REGISTER
from api.deps import (
    ClientDep,
    IdempotencyKey,
    Opener,
    Reader,
    SessionDep,
    SettingsDep,
    ensure_department_scope,
)
from api.errors import EngineUnavailableError
from api.ids import case_id_of_workflow
from api.models import (
    CaseCreate,
    CaseListPublic,
    CasePublic,
    CaseSummary,
    StuckCase,
    StuckCaseList,
)
from api.routes.common import CaseId, QueryDateTime, build
from api.stuck_queries import Stuck, render
from contracts.case import CaseKind, CaseOpenInput, Priority, Stage, TimelineEvent
from contracts.search_attributes import CASE_STAGE
from policy.reports import policy_timezone
from store.cases import list_cases, timeline_upto
from store.db import session_scope

router = APIRouter(prefix="/v1/cases", tags=["cases"])


class CaseFilter(BaseModel):
    """Filters on the register; ``stuck`` runs a Temporal visibility query instead."""

    model_config = ConfigDict(extra="forbid")

    kind: CaseKind | None = None
    channel: str | None = None
    stage: Stage | None = None
    department: str | None = None
    owner: str | None = None
    category: str | None = None
    product: str | None = None
    priority: Priority | None = None
    customer_id: str | None = None
    breached: bool | None = None
    # A date or time without an offset is the bank's local time (the policy's zone).
    opened_from: QueryDateTime | None = None
    opened_to: QueryDateTime | None = None
    open_only: bool = False
    stuck: Stuck | None = Field(
        default=None,
        description="breached | department_overdue (with department) | due_within_hour"
        " | escalated: supervisors only",
    )
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


_REGISTER_ONLY = (
    "kind",
    "channel",
    "stage",
    "owner",
    "category",
    "product",
    "priority",
    "customer_id",
    "breached",
    "opened_from",
    "opened_to",
)


@router.post(
    "",
    response_model=CasePublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": CasePublic, "description": "A retry: the case this key opened"},
        **OPEN_CASE,
    },
    name="open_case",
)
async def open_case(
    body: CaseCreate,
    user: Opener,
    client: ClientDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CasePublic:
    """Open a case; with ``Idempotency-Key`` a retry returns the same case (200)."""
    if body.channel not in settings.channels:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "channel"),
                    "msg": f"unknown channel; one of {', '.join(settings.channels)}",
                    "type": "value_error",
                    "input": body.channel,
                }
            ]
        )
    intake = build(
        CaseOpenInput, case_id="pending", opened_by=user.user, **body.model_dump(mode="python")
    )
    state, first = await engine.open_case(
        client, task_queue=settings.task_queue, intake=intake, idempotency_key=idempotency_key
    )
    response.status_code = status.HTTP_201_CREATED if first else status.HTTP_200_OK
    response.headers["Location"] = f"{router.prefix}/{state.case_id}"
    return CasePublic.from_state(state)


def _earlier_events(database_url: str, case_id: str, upto_seq: int) -> list[TimelineEvent]:
    """The events of a case's earlier runs, read only for a case that has some."""
    with session_scope(database_url) as session:
        return timeline_upto(session, case_id=case_id, upto_seq=upto_seq)


@router.get("/{case_id}", response_model=CasePublic, responses=READ_CASE, name="read_case")
async def read_case(
    case_id: CaseId, user: Reader, client: ClientDep, settings: SettingsDep
) -> CasePublic:
    """The live case from its workflow: stage, owner, clocks, remedies, timeline.

    A long-lived case continues as new now and then, carrying its state but not its
    older events: those come from the register, so the timeline is always whole."""
    state = await engine.get_state(client, case_id)
    ensure_department_scope(user, state.department)
    if state.timeline_offset:
        earlier = await run_in_threadpool(
            _earlier_events, settings.database_url, case_id, state.timeline_offset
        )
        if len(earlier) != state.timeline_offset:
            raise EngineUnavailableError("the case register is behind the case; try again")
        state = state.model_copy(update={"timeline": [*earlier, *state.timeline]})
    return CasePublic.from_state(state)


@router.get(
    "", response_model=CaseListPublic | StuckCaseList, responses=REGISTER, name="list_cases"
)
async def list_register(
    filters: Annotated[CaseFilter, Query()],
    user: Reader,
    client: ClientDep,
    session: SessionDep,
    settings: SettingsDep,
) -> CaseListPublic | StuckCaseList:
    """The case register, filtered and paged; or, with ``stuck``, the cases a Temporal
    visibility query finds (the same query a supervisor can paste into the Web UI)."""
    if filters.stuck is not None:
        return await _stuck(filters, user.role, client)
    department = filters.department
    if user.role is Role.DEPARTMENT:
        if department is not None and department != user.department:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a department lists its own cases")
        department = user.department
    local = ZoneInfo(policy_timezone(settings.policy_file))
    opened_from, opened_to = _aware(filters.opened_from, local), _aware(filters.opened_to, local)
    rows, total = await run_in_threadpool(
        lambda: list_cases(
            session,
            kind=filters.kind,
            channel=filters.channel,
            stage=filters.stage,
            department=department,
            owner=filters.owner,
            category=filters.category,
            product=filters.product,
            priority=filters.priority,
            customer_id=filters.customer_id,
            breached=filters.breached,
            opened_from=opened_from,
            opened_to=opened_to,
            open_only=filters.open_only,
            limit=filters.limit,
            offset=filters.offset,
        )
    )
    return CaseListPublic(
        items=[CaseSummary.model_validate(row, from_attributes=True) for row in rows],
        total=total,
        limit=filters.limit,
        offset=filters.offset,
    )


def _aware(moment: datetime | None, local: ZoneInfo) -> datetime | None:
    return moment.replace(tzinfo=local) if moment and moment.tzinfo is None else moment


async def _stuck(filters: CaseFilter, role: Role, client: ClientDep) -> StuckCaseList:
    if role is not Role.SUPERVISOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only supervisors run stuck queries")
    assert filters.stuck is not None
    mixed = [name for name in _REGISTER_ONLY if getattr(filters, name) is not None]
    if mixed:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": "cannot be combined with stuck",
                    "type": "value_error",
                    "input": getattr(filters, name),
                }
                for name in mixed
            ]
        )
    try:
        query = render(filters.stuck, department=filters.department)
    except ValueError as exc:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "department"),
                    "msg": str(exc),
                    "type": "value_error",
                    "input": filters.department,
                }
            ]
        ) from exc
    items: list[StuckCase] = []
    seen = 0
    try:
        async for execution in client.list_workflows(query, limit=filters.offset + filters.limit):
            seen += 1
            if seen > filters.offset:
                items.append(
                    StuckCase(
                        case_id=case_id_of_workflow(execution.id),
                        stage=_stage(execution.typed_search_attributes.get(CASE_STAGE)),
                    )
                )
    except RPCError as exc:
        raise EngineUnavailableError(f"the visibility query failed: {exc.message}") from exc
    return StuckCaseList(stuck=filters.stuck.value, query=query, items=items)


def _stage(value: str | None) -> Stage | None:
    try:
        return Stage(value) if value is not None else None
    except ValueError:  # a stage a newer workflow version added
        return None
