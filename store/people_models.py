"""What the reports hold about agents, training, suggestions and improvement actions
(R5.1-R5.3, R6.3, R6.5): plain models, stored inside the report revisions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from contracts.people import SuggestionStatus, TrainingVerdict


class AgentClockShare(BaseModel):
    clock: str
    decided: int
    on_time: int
    on_time_share: float | None


class AgentFigures(BaseModel):
    """One agent's quarter (R5.2): the cases they own, opened in it."""

    agent: str
    cases: int
    first_response_p50_seconds: int | None
    first_response_p90_seconds: int | None
    clocks: list[AgentClockShare]
    on_time_share: float | None  # every service clock together
    satisfaction_mean: float | None
    satisfaction_answers: int
    closed: int
    reopened: int
    reopen_rate: float | None
    remedies: int
    remedies_amount: dict[str, str]  # currency -> exact decimal text
    # 1 = best; None below ``agent_min_cases`` (shown, not ranked).
    rank: int | None


class AgentAssessment(BaseModel):
    period: str
    min_cases: int
    ranked: int
    agents: list[AgentFigures]  # ranked first in rank order, then the unranked by name


class EffectSide(BaseModel):
    starts_at: datetime
    ends_at: datetime
    cases: int
    decided: int
    on_time: int
    on_time_share: float | None
    satisfaction_answers: int
    satisfaction_mean: float | None


class AttendeeEffect(BaseModel):
    agent: str
    before: EffectSide
    after: EffectSide
    on_time_points: float | None  # (after - before) * 100
    satisfaction_change: float | None
    verdict: TrainingVerdict


class TrainingEffect(BaseModel):
    """A session held in the quarter and what changed for each attendee (R5.3)."""

    training_id: str
    topic: str
    held_on: date
    trainer: str
    categories: list[str]
    material_url: str | None
    action_id: str | None
    window_days: int
    attendees: list[AttendeeEffect]


class NeedAgent(BaseModel):
    agent: str
    count: int
    bad: int


class TrainingNeed(BaseModel):
    """A weak link of the month as a suggested training need (R2.3, R5.1)."""

    measure: Literal["on_time", "satisfaction"]
    category: str
    channel: str
    department: str | None
    clock: str | None
    sentence_en: str
    sentence_zh: str
    agents: list[NeedAgent]  # the cell's owners with the most late clocks or low scores


class SuggestionLine(BaseModel):
    suggestion_id: str
    author: str
    role: str
    title: str
    text: str
    category: str | None
    created_at: datetime
    status: SuggestionStatus
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    action_id: str | None


class Suggestions(BaseModel):
    """Staff suggestions made in the quarter and what became of them (R6.5)."""

    total: int
    open: int
    accepted: list[SuggestionLine] = Field(default_factory=list)
    declined: list[SuggestionLine] = Field(default_factory=list)
    waiting: list[SuggestionLine] = Field(default_factory=list)


class TargetJudgement(BaseModel):
    """The action's target against the register's figures of ``period``."""

    period: str
    value: float | None
    count: int  # decided clocks, or survey answers
    verdict: Literal["reached", "not_reached", "too_few_cases"]
