"""Agents, training and staff suggestions (R5.1-R5.3, R6.5).

``GET /v1/agents/{user}/assessment`` computes an agent's quarter from the register
(a supervisor reads anyone's, an agent only their own); the quarterly evaluation
stores the whole team's. Training sessions are recorded here, and a session naming
an improvement action is linked to it. Any staff member may make a suggestion; a
supervisor accepts it into an improvement action or declines it with a reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from api.auth import Role
from api.contract import errors
from api.deps import ClientDep, DepartmentActor, Handler, SessionDep, SettingsDep, Supervisor
from api.routes.improvement import ActionCreate, link_training, start_action
from contracts.case import Name, Text
from contracts.improvement import ActionSource, ActionState, ActionStatus
from contracts.people import SuggestionStatus
from contracts.periods import PeriodError, ReportKind, parse_period
from contracts.reports import ReportRules
from policy.reports import policy_timezone, report_rules
from store.db import session_scope
from store.improvement import action_state
from store.people import (
    NewTraining,
    add_suggestion,
    agent_assessment,
    attendees_of,
    decide_suggestion,
    get_suggestion,
    list_suggestions,
    training_rows,
)
from store.people import (
    record_training as store_training,
)
from store.people_models import AgentFigures, SuggestionLine

# Three resources, each its own tag: agents, trainings, suggestions.
router = APIRouter()

Label = Annotated[str, Field(min_length=1, max_length=120)]


class Assessment(BaseModel):
    quarter: str
    min_cases: int
    ranked: int  # agents ranked in the team
    agent: AgentFigures


class TrainingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: Text
    held_on: date
    trainer: Name
    attendees: Annotated[list[Name], Field(min_length=1, max_length=500)]
    categories: Annotated[list[Label], Field(min_length=1, max_length=50)]
    material_url: AnyHttpUrl | None = None
    # The improvement action that asked for it: linked on its timeline.
    action_id: Annotated[str, Field(pattern=r"^action-[A-Za-z0-9._-]+$")] | None = None


class TrainingPublic(BaseModel):
    training_id: str
    topic: str
    held_on: date
    trainer: str
    attendees: list[str]
    categories: list[str]
    material_url: str | None
    action_id: str | None
    recorded_by: str


class SuggestionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=300)]
    text: Text
    category: Label | None = None


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class AcceptBody(ActionCreate):
    """The improvement action the suggestion becomes (its source is the suggestion)."""

    source: ActionSource = ActionSource.SUGGESTION


class Accepted(BaseModel):
    suggestion: SuggestionLine
    action: ActionState


def _rules(settings: SettingsDep) -> ReportRules:
    return report_rules(settings.reports_file)


@router.get(
    "/v1/agents/{user}/assessment",
    response_model=Assessment,
    tags=["agents"],
    responses=errors(401, 403, 404, 422),
    name="read_agent_assessment",
)
def read_assessment(
    user: Annotated[str, Path(min_length=1, max_length=120)],
    session: SessionDep,
    settings: SettingsDep,
    caller: Handler,
    quarter: Annotated[str, Query(description="yyyy-Qn")],
) -> Assessment:
    """An agent's quarter: cases, first-response times, on-time shares, satisfaction,
    reopens, remedies and their place in the team's ranking."""
    if caller.role is not Role.SUPERVISOR and caller.user != user:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "an agent may read only their own assessment"
        )
    try:
        period = parse_period(ReportKind.QUARTERLY, quarter)
    except PeriodError as err:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "quarter"),
                    "msg": str(err),
                    "type": "value_error",
                    "input": quarter,
                }
            ]
        ) from err
    team = agent_assessment(
        session, period, tz=policy_timezone(settings.policy_file), rules=_rules(settings).people
    )
    mine = next((a for a in team.agents if a.agent == user), None)
    if mine is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{user} owned no case in {period.label}")
    return Assessment(
        quarter=period.label, min_cases=team.min_cases, ranked=team.ranked, agent=mine
    )


@router.post(
    "/v1/trainings",
    response_model=TrainingPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["trainings"],
    responses=errors(400, 401, 403, 422),
    name="record_training",
)
async def record_training(
    body: TrainingBody, user: Supervisor, client: ClientDep, settings: SettingsDep
) -> TrainingPublic:
    """Record a session (R5.1); the quarterly evaluation measures its effect (R5.3)."""
    training = NewTraining(
        training_id=f"training-{uuid.uuid4().hex[:12]}",
        topic=body.topic,
        held_on=body.held_on,
        trainer=body.trainer,
        attendees=sorted(set(body.attendees)),
        categories=sorted(set(body.categories)),
        material_url=str(body.material_url) if body.material_url else None,
        action_id=body.action_id,
        recorded_by=user.user,
    )
    with session_scope(settings.database_url, write=True) as session:
        if body.action_id is not None:
            asked_by = action_state(session, body.action_id)
            problem = (
                f"no improvement action {body.action_id}"
                if asked_by is None
                else f"improvement action {body.action_id} is closed"
                if asked_by.status is ActionStatus.CLOSED
                else None
            )
            if problem is not None:
                raise RequestValidationError(
                    [
                        {
                            "loc": ("body", "action_id"),
                            "msg": problem,
                            "type": "value_error",
                            "input": body.action_id,
                        }
                    ]
                )
        store_training(session, training)
    if body.action_id is not None:
        await link_training(client, body.action_id, training.training_id, user.user)
    return TrainingPublic(**training.__dict__)


@router.get(
    "/v1/trainings",
    response_model=list[TrainingPublic],
    tags=["trainings"],
    responses=errors(401, 403, 422),
    name="list_trainings",
)
def list_trainings(
    session: SessionDep,
    _user: Supervisor,
    start: date = date(1970, 1, 1),
    end: date = date(9999, 1, 1),
) -> list[TrainingPublic]:
    """Sessions held on ``[start, end)``."""
    return [
        TrainingPublic(
            training_id=r.training_id,
            topic=r.topic,
            held_on=r.held_on,
            trainer=r.trainer,
            attendees=attendees_of(session, r.training_id),
            categories=list(r.categories),
            material_url=r.material_url,
            action_id=r.action_id,
            recorded_by=r.recorded_by,
        )
        for r in training_rows(session, start=start, end=end)
    ]


@router.post(
    "/v1/suggestions",
    response_model=SuggestionLine,
    status_code=status.HTTP_201_CREATED,
    tags=["suggestions"],
    responses=errors(400, 401, 403, 422),
    name="make_suggestion",
)
def make_suggestion(
    body: SuggestionBody, user: DepartmentActor, settings: SettingsDep
) -> SuggestionLine:
    """Any staff member's suggestion (R6.5)."""
    line = SuggestionLine(
        suggestion_id=f"suggestion-{uuid.uuid4().hex[:12]}",
        author=user.user,
        role=user.role.value,
        title=body.title,
        text=body.text,
        category=body.category,
        created_at=datetime.now(UTC),
        status=SuggestionStatus.OPEN,
        decided_by=None,
        decided_at=None,
        reason=None,
        action_id=None,
    )
    with session_scope(settings.database_url, write=True) as session:
        add_suggestion(session, line)
    return line


@router.get(
    "/v1/suggestions",
    response_model=list[SuggestionLine],
    tags=["suggestions"],
    responses=errors(401, 403, 422),
    name="list_suggestions",
)
def read_suggestions(
    session: SessionDep,
    _user: Supervisor,
    status_filter: Annotated[SuggestionStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SuggestionLine]:
    return list_suggestions(session, status=status_filter, limit=limit)


SuggestionId = Annotated[str, Path(pattern=r"^suggestion-[a-f0-9]{12}$")]


def _open_suggestion(settings: SettingsDep, suggestion_id: str) -> SuggestionLine:
    with session_scope(settings.database_url) as session:
        found = get_suggestion(session, suggestion_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no suggestion {suggestion_id}")
    if found.status is not SuggestionStatus.OPEN:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"suggestion {suggestion_id} is already {found.status.value} by {found.decided_by}",
        )
    return found


@router.post(
    "/v1/suggestions/{suggestion_id}/accept",
    response_model=Accepted,
    tags=["suggestions"],
    responses=errors(400, 401, 403, 404, 409, 422, 503),
    name="accept_suggestion",
)
async def accept_suggestion(
    suggestion_id: SuggestionId,
    body: AcceptBody,
    user: Supervisor,
    client: ClientDep,
    settings: SettingsDep,
) -> Accepted:
    """Accept into an improvement action; the action's ID follows from the suggestion,
    so a retried accept starts it once."""
    _open_suggestion(settings, suggestion_id)
    create = ActionCreate.model_validate(
        {**body.model_dump(), "source": ActionSource.SUGGESTION, "source_ref": suggestion_id}
    )
    action_id = "action-" + suggestion_id.removeprefix("suggestion-")
    # The decision and the action's start stand or fall together: the suggestion is
    # marked in the same transaction that is committed only once the action started.
    with session_scope(settings.database_url, write=True) as session:
        if not decide_suggestion(
            session,
            suggestion_id,
            status=SuggestionStatus.ACCEPTED,
            by=user.user,
            reason=None,
            action_id=action_id,
        ):
            raise HTTPException(status.HTTP_409_CONFLICT, f"suggestion {suggestion_id} is decided")
        action = await start_action(client, settings, create, user.user, action_id=action_id)
        line = get_suggestion(session, suggestion_id)
    assert line is not None
    return Accepted(suggestion=line, action=action)


@router.post(
    "/v1/suggestions/{suggestion_id}/decline",
    response_model=SuggestionLine,
    tags=["suggestions"],
    responses=errors(400, 401, 403, 404, 409, 422),
    name="decline_suggestion",
)
def decline_suggestion(
    suggestion_id: SuggestionId, body: DeclineBody, user: Supervisor, settings: SettingsDep
) -> SuggestionLine:
    """Decline with the reason the author will read."""
    _open_suggestion(settings, suggestion_id)
    with session_scope(settings.database_url, write=True) as session:
        if not decide_suggestion(
            session,
            suggestion_id,
            status=SuggestionStatus.DECLINED,
            by=user.user,
            reason=body.reason,
            action_id=None,
        ):
            raise HTTPException(status.HTTP_409_CONFLICT, f"suggestion {suggestion_id} is decided")
        line = get_suggestion(session, suggestion_id)
    assert line is not None
    return line
