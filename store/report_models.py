"""What a stored report holds (R6.2, R6.4): plain models, stored as JSON revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from store.people_models import (
    AgentAssessment,
    Suggestions,
    TargetJudgement,
    TrainingEffect,
    TrainingNeed,
)


class Count(BaseModel):
    key: str | None
    count: int


class Volumes(BaseModel):
    total: int
    by_kind: list[Count]
    by_channel: list[Count]
    by_category: list[Count]
    by_product: list[Count]
    by_department: list[Count]


class WeekVolume(BaseModel):
    week_start: str  # local date of the week's Monday (or the period's first day)
    count: int


class ClockFigures(BaseModel):
    """One clock's promises started in the period and how they went (so far)."""

    clock: str
    started: int
    met_on_time: int
    met_late: int
    breached_open: int
    still_running: int
    # Met on time / (met on time + met late + breached and open); None with none decided.
    on_time_share: float | None
    # Nearest-rank percentiles of start-to-met, in seconds, over every met clock.
    p50_seconds: int | None
    p90_seconds: int | None


class ClockChannelShare(BaseModel):
    clock: str
    channel: str
    decided: int
    on_time: int
    on_time_share: float | None


class Breach(BaseModel):
    case_id: str
    clock: str
    deadline: datetime
    met_at: datetime | None
    # Met late: met - deadline; still open: report time - deadline.
    late_seconds: int
    category: str
    channel: str
    department: str | None


class Comment(BaseModel):
    case_id: str
    score: int
    comment: str
    at: datetime


class Satisfaction(BaseModel):
    surveys_sent: int
    surveys_answered: int
    response_rate: float | None
    responses: int  # feedback given in the period
    mean: float | None
    distribution: dict[str, int]  # "1".."5"
    comments_total: int
    comments: list[Comment]


class RemedyFigures(BaseModel):
    kind: str
    currency: str
    count: int
    amount: str  # exact decimal text


class Reopens(BaseModel):
    closed: int
    reopened: int
    rate: float | None


class WeakLink(BaseModel):
    """A category x channel x department cell worse than the bank as a whole."""

    measure: Literal["on_time", "satisfaction"]
    category: str
    channel: str
    department: str | None
    clock: str | None = None
    count: int
    bad: int  # late clocks, or answers scoring 1-2
    value: float  # on-time share, or mean score
    bank_value: float
    sentence_en: str
    sentence_zh: str


class RecurringProblem(BaseModel):
    category: str
    product: str | None
    count: int
    trailing_mean: float
    sentence_en: str
    sentence_zh: str


class RepeatComplaint(BaseModel):
    customer_id: str
    case_id: str
    opened_at: datetime
    previous_case_id: str
    previous_closed_at: datetime


class Recurring(BaseModel):
    problems: list[RecurringProblem]
    repeat_complaints_total: int
    repeat_complaints: list[RepeatComplaint]


class ImprovementAction(BaseModel):
    action_id: str
    title: str
    status: str
    source: str | None = None
    owner: str | None = None
    due: datetime | None = None
    target: str | None = None
    outcome: str | None = None
    closed_at: datetime | None = None
    training_ids: list[str] = Field(default_factory=list)
    policy_proposal: str | None = None  # the proposed file, for operations to apply
    # The monthly report after the closing month judges the target (R6.3).
    judgement: TargetJudgement | None = None


class ImprovementActions(BaseModel):
    """The improvement actions (R6.3). Monthly: those judged on this month (closed
    the month before), those closed in it (judged next month), and the overdue.
    Quarterly: every action opened, closed or open in the quarter."""

    available: bool = False
    actions: list[ImprovementAction] = Field(default_factory=list)
    open: int = 0
    overdue: int = 0


class MonthlyReport(BaseModel):
    kind: Literal["monthly"] = "monthly"
    period: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    as_of: datetime
    volumes: Volumes
    weekly: list[WeekVolume]
    clocks: list[ClockFigures]
    on_time_by_channel: list[ClockChannelShare]
    breaches_total: int
    breaches: list[Breach]
    satisfaction: Satisfaction
    remedies: list[RemedyFigures]
    reopens: Reopens
    weak_links: list[WeakLink]
    recurring: Recurring
    improvement_actions: ImprovementActions = Field(default_factory=ImprovementActions)
    training_needs: list[TrainingNeed] = Field(default_factory=list)


class Headline(BaseModel):
    """The figures a quarter is compared on."""

    cases: int
    complaints: int
    on_time_share: float | None
    clock_on_time: dict[str, float | None]
    breaches: int
    satisfaction_mean: float | None
    response_rate: float | None
    remedies: int
    reopen_rate: float | None
    repeat_complaints: int


class Finding(BaseModel):
    finding_id: str
    title_en: str
    title_zh: str
    evidence: dict[str, float | int | str | None]


class FindingNotePublic(BaseModel):
    note_id: str
    finding_id: str
    author: str
    causes: str
    proposals: str
    created_at: datetime


class QuarterlyReport(BaseModel):
    kind: Literal["quarterly"] = "quarterly"
    period: str
    previous_period: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    as_of: datetime
    current: Headline
    previous: Headline
    findings: list[Finding]
    weak_links: list[WeakLink]
    improvement_actions: ImprovementActions = Field(default_factory=ImprovementActions)
    agents: AgentAssessment | None = None
    trainings: list[TrainingEffect] = Field(default_factory=list)
    suggestions: Suggestions | None = None
