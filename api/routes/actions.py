"""Handler actions on a case: one POST each, derived from the case's action table.

Every action in ``workflows.rules.ACTIONS`` gets a route here (``route_for`` matches
every action exhaustively, so mypy flags one without a route); the body is the
action's own ``<Name>Body`` and the operation ID its name. Bodies carry no ``actor``:
the token's user is recorded as the one who acted (R2.2). Each answers the case after
the action; 409 with the workflow's reason when the case's stage does not allow it;
422 for a value wrong for this case. An ``Idempotency-Key`` becomes the update ID, so
a retried request applies once and returns the first result.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any, assert_never

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel

from api import engine
from api.auth import Principal, Role
from api.contract import CASE_ACTION
from api.deps import (
    ClientDep,
    DepartmentActor,
    FeedbackTaker,
    Handler,
    IdempotencyKey,
    Supervisor,
)
from api.models import CasePublic
from api.routes.common import CaseId, build
from contracts.actions import ActionName
from contracts.policy import ClockName
from workflows.rules import ACTIONS, AnyRule

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["cases"], responses=CASE_ACTION)

ClockInPath = Annotated[ClockName, Path(description="The clock's name")]
RemedyIdInPath = Annotated[str, Path(min_length=1, max_length=100)]


@dataclass(frozen=True)
class PathField:
    """A path parameter that fills a field of the action's input."""

    param: str
    field: str
    annotation: Any


@dataclass(frozen=True)
class ActionRoute:
    """How one action is reached over HTTP: path under the case, who may call it."""

    path: str
    role: Any
    summary: str
    optional_body: bool = False
    path_field: PathField | None = None
    # A department's staff act for their department; the workflow refuses them on a
    # case another department holds (403), in the same step that applies the action,
    # so a transfer can never slip in between a check and the update.
    acting_department: bool = False
    # The operation ID when the action's name is a bare verb that other resources share
    # (``close`` -> ``close_case``); otherwise the action's name.
    operation: str | None = None


_CLOCK = PathField("name", "clock", ClockInPath)


def route_for(name: ActionName) -> ActionRoute | None:
    """The route of one action; None for those only a workflow sends (a crisis
    incident to its member cases)."""
    match name:
        case ActionName.ACKNOWLEDGE:
            return ActionRoute(
                "acknowledge",
                Handler,
                "First response to the customer (R3.2): stops the 5-minute clock.",
                optional_body=True,
                operation="acknowledge_case",
            )
        case ActionName.ANSWER:
            return ActionRoute(
                "answer",
                Handler,
                "A simple question answered at once; the case resolves (R3.3).",
                operation="answer_case",
            )
        case ActionName.TRANSFER:
            return ActionRoute(
                "transfer",
                Handler,
                "Hand a complex question to the responsible department (R3.4).",
                operation="transfer_case",
            )
        case ActionName.RECORD_DEPARTMENT_PLAN:
            return ActionRoute(
                "department-plan",
                DepartmentActor,
                "The department's handling plan (R3.5); a department only on its own cases.",
                acting_department=True,
            )
        case ActionName.RECORD_DEPARTMENT_RESULT:
            return ActionRoute(
                "department-result",
                DepartmentActor,
                "The department's result (R3.6); a department only on its own cases.",
                acting_department=True,
            )
        case ActionName.UPDATE_CUSTOMER:
            return ActionRoute(
                "customer-update", Handler, "Progress and result told to the customer (R3.7)."
            )
        case ActionName.ASSIGN_OWNER:
            return ActionRoute("assign", Handler, "Name the complaint's one owner (R4.2).")
        case ActionName.RECORD_INVESTIGATION:
            return ActionRoute(
                "investigation", Handler, "The owner's initial investigation (R4.3)."
            )
        case ActionName.PROPOSE_REMEDY:
            return ActionRoute(
                "remedies",
                Handler,
                "Propose a remedy (R4.4); above the policy's threshold it waits for approval.",
            )
        case ActionName.DECIDE_REMEDY:
            return ActionRoute(
                "remedies/{remedy_id}/approve",
                Supervisor,
                "A supervisor approves or rejects a proposed remedy (``approve: false``).",
                path_field=PathField("remedy_id", "remedy_id", RemedyIdInPath),
            )
        case ActionName.SEND_FINAL_REPLY:
            return ActionRoute(
                "reply",
                Handler,
                "The final reply to the complainant (R4.4, within 7 working days).",
            )
        case ActionName.CLOSE:
            return ActionRoute(
                "close",
                Handler,
                "Close the case; the satisfaction survey follows (R6.1).",
                optional_body=True,
                operation="close_case",
            )
        case ActionName.REOPEN:
            return ActionRoute(
                "reopen",
                Handler,
                "Reopen a closed case within the policy's reopen window.",
                operation="reopen_case",
            )
        case ActionName.RECORD_FEEDBACK:
            return ActionRoute(
                "feedback",
                FeedbackTaker,
                "The customer's score and comment (R6.1), taken at any channel.",
            )
        case ActionName.EXTEND_CLOCK:
            return ActionRoute(
                "clocks/{name}/extend",
                Supervisor,
                "Move a running clock's deadline by a duration or a number of working days.",
                path_field=_CLOCK,
            )
        case ActionName.PAUSE_CLOCK:
            return ActionRoute(
                "clocks/{name}/pause",
                Supervisor,
                "Stop a clock while the bank waits on the customer.",
                path_field=_CLOCK,
            )
        case ActionName.RESUME_CLOCK:
            return ActionRoute(
                "clocks/{name}/resume",
                Supervisor,
                "Restart a paused clock with the time it had left.",
                optional_body=True,
                path_field=_CLOCK,
            )
        case ActionName.ESCALATE:
            return ActionRoute(
                "escalate",
                Supervisor,
                "Raise the case one rung up the escalation ladder by hand.",
                operation="escalate_case",
            )
        case ActionName.ADD_NOTE:
            return ActionRoute("notes", Handler, "A note on the case's timeline.")
        case ActionName.EXTEND_REGULATOR_CLOCK:
            return ActionRoute(
                "regulator-clock/extend",
                Supervisor,
                "The regulator's next extension (R9), with the approver and the customer's"
                " notice its rule demands.",
            )
        case ActionName.JOIN_INCIDENT | ActionName.SEND_INCIDENT_HOLDING:
            return None  # the incident's own actions: /v1/crises
        case _:
            assert_never(name)


def _update_id(path: str, user: Principal, key: str | None) -> str | None:
    """The update ID for a keyed request: scoped to the action and the caller, so one
    key reused for a different action or by another caller is not taken as a retry."""
    return None if key is None else f"{path}:{user.user}:{key}"


def _endpoint(rule: AnyRule, route: ActionRoute) -> Any:
    """A FastAPI endpoint for one action, with the signature FastAPI reads its
    parameters from (case, path field, body, caller, client, idempotency key)."""

    async def endpoint(**params: Any) -> CasePublic:
        user: Principal = params["user"]
        body: BaseModel | None = params.get("body")
        fields = (body or rule.body()).model_dump()
        path_values: dict[str, Any] = {}
        if route.path_field is not None:
            path_values[route.path_field.param] = params[route.path_field.param]
            fields[route.path_field.field] = params[route.path_field.param]
        if route.acting_department:
            fields["department"] = user.department if user.role is Role.DEPARTMENT else None
        action = build(rule.input, actor=user.user, **fields)
        state = await engine.apply_action(
            params["client"],
            params["case_id"],
            rule.name,
            action,
            update_id=_update_id(route.path.format(**path_values), user, params["key"]),
        )
        return CasePublic.from_state(state)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter("case_id", keyword, annotation=CaseId)]
    if route.path_field is not None:
        parameters.append(
            inspect.Parameter(
                route.path_field.param, keyword, annotation=route.path_field.annotation
            )
        )
    if route.optional_body:
        parameters.append(
            inspect.Parameter(
                "body", keyword, annotation=Annotated[rule.body | None, Body()], default=None
            )
        )
    else:
        parameters.append(inspect.Parameter("body", keyword, annotation=rule.body))
    parameters += [
        inspect.Parameter("user", keyword, annotation=route.role),
        inspect.Parameter("client", keyword, annotation=ClientDep),
        inspect.Parameter("key", keyword, annotation=IdempotencyKey, default=None),
    ]
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=CasePublic)  # type: ignore[attr-defined]
    endpoint.__name__ = route.operation or rule.name.value
    endpoint.__doc__ = route.summary
    return endpoint


for _rule in ACTIONS.values():
    _route = route_for(_rule.name)
    if _route is None:
        continue
    router.add_api_route(
        f"/{_route.path}",
        _endpoint(_rule, _route),
        methods=["POST"],
        response_model=CasePublic,
        name=_route.operation or _rule.name.value,
    )
