"""A department's open work: the cases transferred to it and waiting on it (R3.5, R3.6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool

from api.auth import Role
from api.contract import REGISTER
from api.deps import DepartmentActor, SessionDep
from api.models import CaseListPublic, CaseSummary
from store.cases import department_open_cases

router = APIRouter(prefix="/v1/departments", tags=["departments"])


@router.get(
    "/{code}/cases",
    response_model=CaseListPublic,
    responses=REGISTER,
    name="list_department_cases",
)
async def department_cases(
    code: Annotated[str, Path(min_length=1, max_length=120)],
    user: DepartmentActor,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseListPublic:
    """Cases waiting on department ``code``'s plan or result, oldest deadline first.

    A department token sees its own list only (403 for another code).
    """
    if user.role is Role.DEPARTMENT and code != user.department:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a department sees its own work only")
    rows, total = await run_in_threadpool(
        lambda: department_open_cases(session, department=code, limit=limit, offset=offset)
    )
    return CaseListPublic(
        items=[CaseSummary.model_validate(row, from_attributes=True) for row in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
