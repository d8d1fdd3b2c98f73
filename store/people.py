"""Agents assessed, training recorded and measured, staff suggestions (R2.3, R5.1-R5.3,
R6.5), as SQL aggregates like the rest of the reports.

An agent's figures are those of the cases they own (the register's ``owner``): the
cases opened in the period, the service clocks started in it, the surveys answered
and the remedies recorded in it, and the cases closed or reopened in it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, and_, case, cast, distinct, func, select, update
from sqlmodel import Session

from contracts.people import PeopleRules, SuggestionStatus, TrainingVerdict
from contracts.periods import Period
from store.idempotent import table_of
from store.people_models import (
    AgentAssessment,
    AgentClockShare,
    AgentFigures,
    AttendeeEffect,
    EffectSide,
    NeedAgent,
    SuggestionLine,
    Suggestions,
    TrainingEffect,
    TrainingNeed,
)
from store.people_tables import StaffSuggestion, TrainingAttendee, TrainingCategory, TrainingRow
from store.report_models import WeakLink
from store.reports import (
    CASES,
    CLOCKS,
    EVENTS,
    FEEDBACK,
    REMEDIES,
    SURVEY,
    Window,
    local_midnight,
    window_of,
)

TRAININGS = table_of(TrainingRow)
ATTENDEES = table_of(TrainingAttendee)
CATEGORIES = table_of(TrainingCategory)
SUGGESTIONS = table_of(StaffSuggestion)
FIRST_RESPONSE = "first_response"
NEED_AGENTS = 5


def _in(column: Any, window: Window) -> Any:
    return and_(column >= window.start, column < window.end)


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_ON_TIME = CLOCKS.c.status == "met"
_DECIDED = CLOCKS.c.status.in_(["met", "breached"])
_OWNED_CLOCKS = CLOCKS.join(CASES, CASES.c.case_id == CLOCKS.c.case_id)


# --- the agent assessment (R5.2) --------------------------------------------------------


def _first_response_percentiles(
    session: Session, window: Window
) -> dict[str, tuple[int | None, int | None]]:
    """Per owner, p50 and p90 (nearest rank) of intake-to-first-response."""
    ranked = (
        select(
            CASES.c.owner.label("owner"),
            CLOCKS.c.seconds_to_meet.label("seconds"),
            func.row_number()
            .over(partition_by=CASES.c.owner, order_by=CLOCKS.c.seconds_to_meet)
            .label("rank"),
            func.count().over(partition_by=CASES.c.owner).label("n"),
        )
        .select_from(_OWNED_CLOCKS)
        .where(
            CLOCKS.c.clock == FIRST_RESPONSE,
            _in(CLOCKS.c.started_at, window),
            CLOCKS.c.met_at.is_not(None),
            CASES.c.owner.is_not(None),
        )
        .subquery()
    )
    p50 = cast((ranked.c.n + 1) // 2, Integer)
    p90 = cast((ranked.c.n * 9 + 9) // 10, Integer)
    rows = session.execute(
        select(
            ranked.c.owner,
            func.max(case((ranked.c.rank == p50, ranked.c.seconds))),
            func.max(case((ranked.c.rank == p90, ranked.c.seconds))),
        )
        .where(ranked.c.rank.in_([p50, p90]))
        .group_by(ranked.c.owner)
    ).all()
    return {owner: (a, b) for owner, a, b in rows}


def _cents_text(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def _rank_key(f: AgentFigures) -> tuple[float, float, float, str]:
    """Best first: on-time share, then satisfaction, then the faster median response."""
    return (
        -(f.on_time_share if f.on_time_share is not None else -1.0),
        -(f.satisfaction_mean if f.satisfaction_mean is not None else 0.0),
        float(f.first_response_p50_seconds if f.first_response_p50_seconds is not None else 1e12),
        f.agent,
    )


def agent_assessment(
    session: Session, period: Period, *, tz: str, rules: PeopleRules
) -> AgentAssessment:
    window = window_of(period, tz)
    owner = CASES.c.owner
    cases = dict(
        session.execute(
            select(owner, func.count())
            .where(_in(CASES.c.opened_at, window), owner.is_not(None))
            .group_by(owner)
        ).all()
    )
    clocks: dict[str, list[AgentClockShare]] = defaultdict(list)
    for agent, name, decided, on_time in session.execute(
        select(owner, CLOCKS.c.clock, _count_if(_DECIDED), _count_if(_ON_TIME))
        .select_from(_OWNED_CLOCKS)
        .where(CLOCKS.c.clock != SURVEY, _in(CLOCKS.c.started_at, window), owner.is_not(None))
        .group_by(owner, CLOCKS.c.clock)
        .order_by(owner, CLOCKS.c.clock)
    ).all():
        clocks[agent].append(
            AgentClockShare(
                clock=name,
                decided=int(decided),
                on_time=int(on_time),
                on_time_share=_share(int(on_time), int(decided)),
            )
        )
    answers = {
        agent: (int(n), int(total))
        for agent, n, total in session.execute(
            select(FEEDBACK.c.owner, func.count(), func.sum(FEEDBACK.c.score))
            .where(_in(FEEDBACK.c.at, window), FEEDBACK.c.owner.is_not(None))
            .group_by(FEEDBACK.c.owner)
        ).all()
    }
    turns = {
        agent: (int(closed), int(reopened))
        for agent, closed, reopened in session.execute(
            select(
                owner,
                func.count(distinct(case((EVENTS.c.type == "closed", EVENTS.c.case_id)))),
                func.count(distinct(case((EVENTS.c.type == "reopened", EVENTS.c.case_id)))),
            )
            .select_from(EVENTS.join(CASES, CASES.c.case_id == EVENTS.c.case_id))
            .where(
                EVENTS.c.type.in_(["closed", "reopened"]),
                _in(EVENTS.c.at, window),
                owner.is_not(None),
            )
            .group_by(owner)
        ).all()
    }
    cents = cast(func.round(cast(REMEDIES.c.amount, Numeric(14, 2)) * 100), Integer)
    remedies: dict[str, tuple[int, dict[str, str]]] = {}
    for agent, currency, n, total in session.execute(
        select(owner, REMEDIES.c.currency, func.count(), func.sum(cents))
        .select_from(REMEDIES.join(CASES, CASES.c.case_id == REMEDIES.c.case_id))
        .where(_in(REMEDIES.c.recorded_at, window), owner.is_not(None))
        .group_by(owner, REMEDIES.c.currency)
        .order_by(owner, REMEDIES.c.currency)
    ).all():
        count, amounts = remedies.get(agent, (0, {}))
        amounts[currency] = _cents_text(int(total or 0))
        remedies[agent] = (count + int(n), amounts)
    percentiles = _first_response_percentiles(session, window)
    agents = set(cases) | set(clocks) | set(answers) | set(turns) | set(remedies)
    figures: list[AgentFigures] = []
    for agent in agents:
        shares = clocks.get(agent, [])
        n_answers, score_total = answers.get(agent, (0, 0))
        closed, reopened = turns.get(agent, (0, 0))
        p50, p90 = percentiles.get(agent, (None, None))
        count, amounts = remedies.get(agent, (0, {}))
        figures.append(
            AgentFigures(
                agent=agent,
                cases=int(cases.get(agent, 0)),
                first_response_p50_seconds=p50,
                first_response_p90_seconds=p90,
                clocks=shares,
                on_time_share=_share(
                    sum(s.on_time for s in shares), sum(s.decided for s in shares)
                ),
                satisfaction_mean=score_total / n_answers if n_answers else None,
                satisfaction_answers=n_answers,
                closed=closed,
                reopened=reopened,
                reopen_rate=_share(reopened, closed),
                remedies=count,
                remedies_amount=amounts,
                rank=None,
            )
        )
    ranked = sorted((f for f in figures if f.cases >= rules.agent_min_cases), key=_rank_key)
    for position, item in enumerate(ranked, start=1):
        item.rank = position
    unranked = sorted((f for f in figures if f.rank is None), key=lambda f: f.agent)
    return AgentAssessment(
        period=period.label,
        min_cases=rules.agent_min_cases,
        ranked=len(ranked),
        agents=[*ranked, *unranked],
    )


# --- training (R5.1, R5.3) ------------------------------------------------------------------


@dataclass(frozen=True)
class NewTraining:
    training_id: str
    topic: str
    held_on: date
    trainer: str
    attendees: list[str]
    categories: list[str]
    material_url: str | None
    action_id: str | None
    recorded_by: str


def record_training(session: Session, training: NewTraining) -> None:
    session.execute(
        TRAININGS.insert().values(
            training_id=training.training_id,
            topic=training.topic,
            held_on=training.held_on,
            trainer=training.trainer,
            categories=training.categories,
            material_url=training.material_url,
            action_id=training.action_id,
            recorded_by=training.recorded_by,
            recorded_at=datetime.now(UTC),
        )
    )
    session.execute(
        ATTENDEES.insert(),
        [{"training_id": training.training_id, "agent": a} for a in training.attendees],
    )
    session.execute(
        CATEGORIES.insert(),
        [{"training_id": training.training_id, "category": c} for c in training.categories],
    )


def training_rows(session: Session, *, start: date, end: date) -> list[Any]:
    """Sessions held on ``[start, end)``, with their attendees."""
    rows = session.execute(
        select(TRAININGS)
        .where(TRAININGS.c.held_on >= start, TRAININGS.c.held_on < end)
        .order_by(TRAININGS.c.held_on, TRAININGS.c.training_id)
    ).all()
    return list(rows)


def attendees_of(session: Session, training_id: str) -> list[str]:
    return list(
        session.execute(
            select(ATTENDEES.c.agent)
            .where(ATTENDEES.c.training_id == training_id)
            .order_by(ATTENDEES.c.agent)
        ).scalars()
    )


def _sides(
    session: Session, training_id: str, before: Window, after: Window
) -> dict[tuple[str, str], dict[str, int]]:
    """(agent, side) -> cases, decided, on_time, answers, score total: the attendee's
    cases in the session's categories opened in each window."""
    side = case((_in(CASES.c.opened_at, before), "before"), else_="after").label("side")
    scope = CASES.join(ATTENDEES, ATTENDEES.c.agent == CASES.c.owner).join(
        CATEGORIES,
        and_(
            CATEGORIES.c.training_id == ATTENDEES.c.training_id,
            CATEGORIES.c.category == CASES.c.category,
        ),
    )
    where = [
        ATTENDEES.c.training_id == training_id,
        (_in(CASES.c.opened_at, before) | _in(CASES.c.opened_at, after)),
    ]
    found: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"cases": 0, "decided": 0, "on_time": 0, "answers": 0, "score": 0}
    )
    for agent, where_, n in session.execute(
        select(CASES.c.owner, side, func.count())
        .select_from(scope)
        .where(*where)
        .group_by(CASES.c.owner, side)
    ).all():
        found[(agent, where_)]["cases"] = int(n)
    for agent, where_, decided, on_time in session.execute(
        select(CASES.c.owner, side, _count_if(_DECIDED), _count_if(_ON_TIME))
        .select_from(scope.join(CLOCKS, CLOCKS.c.case_id == CASES.c.case_id))
        .where(*where, CLOCKS.c.clock != SURVEY)
        .group_by(CASES.c.owner, side)
    ).all():
        found[(agent, where_)]["decided"] = int(decided)
        found[(agent, where_)]["on_time"] = int(on_time)
    for agent, where_, n, total in session.execute(
        select(CASES.c.owner, side, func.count(), func.sum(FEEDBACK.c.score))
        .select_from(scope.join(FEEDBACK, FEEDBACK.c.case_id == CASES.c.case_id))
        .where(*where)
        .group_by(CASES.c.owner, side)
    ).all():
        found[(agent, where_)]["answers"] = int(n)
        found[(agent, where_)]["score"] = int(total or 0)
    return found


def _side(window: Window, figures: dict[str, int]) -> EffectSide:
    return EffectSide(
        starts_at=window.start,
        ends_at=window.end,
        cases=figures["cases"],
        decided=figures["decided"],
        on_time=figures["on_time"],
        on_time_share=_share(figures["on_time"], figures["decided"]),
        satisfaction_answers=figures["answers"],
        satisfaction_mean=figures["score"] / figures["answers"] if figures["answers"] else None,
    )


def verdict(before: EffectSide, after: EffectSide, rules: PeopleRules) -> TrainingVerdict:
    """On the on-time share of the attendee's cases: the efficiency the session is for."""
    if (
        min(before.cases, after.cases) < rules.training_min_cases
        or before.on_time_share is None
        or after.on_time_share is None
    ):
        return TrainingVerdict.TOO_FEW_CASES
    points = (after.on_time_share - before.on_time_share) * 100
    if points >= rules.training_change_points:
        return TrainingVerdict.IMPROVED
    if points <= -rules.training_change_points:
        return TrainingVerdict.WORSE
    return TrainingVerdict.UNCHANGED


def training_effects(
    session: Session, period: Period, *, tz: str, rules: PeopleRules
) -> list[TrainingEffect]:
    """Each session held in the period: every attendee's figures on the session's
    categories in the ``training_window_days`` before the day and as many after it."""
    days = timedelta(days=rules.training_window_days)
    effects = []
    for row in training_rows(session, start=period.start, end=period.end):
        before = Window(local_midnight(row.held_on - days, tz), local_midnight(row.held_on, tz))
        next_day = row.held_on + timedelta(days=1)
        after = Window(local_midnight(next_day, tz), local_midnight(next_day + days, tz))
        sides = _sides(session, row.training_id, before, after)
        empty = {"cases": 0, "decided": 0, "on_time": 0, "answers": 0, "score": 0}
        attendees = []
        for agent in attendees_of(session, row.training_id):
            b = _side(before, sides.get((agent, "before"), empty))
            a = _side(after, sides.get((agent, "after"), empty))
            points = (
                round((a.on_time_share - b.on_time_share) * 100, 1)
                if a.on_time_share is not None and b.on_time_share is not None
                else None
            )
            change = (
                round(a.satisfaction_mean - b.satisfaction_mean, 2)
                if a.satisfaction_mean is not None and b.satisfaction_mean is not None
                else None
            )
            attendees.append(
                AttendeeEffect(
                    agent=agent,
                    before=b,
                    after=a,
                    on_time_points=points,
                    satisfaction_change=change,
                    verdict=verdict(b, a, rules),
                )
            )
        effects.append(
            TrainingEffect(
                training_id=row.training_id,
                topic=row.topic,
                held_on=row.held_on,
                trainer=row.trainer,
                categories=list(row.categories),
                material_url=row.material_url,
                action_id=row.action_id,
                window_days=rules.training_window_days,
                attendees=attendees,
            )
        )
    return effects


def training_needs(session: Session, window: Window, links: list[WeakLink]) -> list[TrainingNeed]:
    """The month's weak links as suggested training needs, each with the cell's owners
    who had the most late clocks (or scores of 1-2)."""
    needs = []
    for link in links:
        cell = [
            CASES.c.category == link.category,
            CASES.c.channel == link.channel,
            CASES.c.department.is_(None)
            if link.department is None
            else CASES.c.department == link.department,
            CASES.c.owner.is_not(None),
        ]
        if link.measure == "on_time":
            bad = _count_if(CLOCKS.c.status == "breached")
            statement = (
                select(CASES.c.owner, _count_if(_DECIDED), bad)
                .select_from(_OWNED_CLOCKS)
                .where(*cell, CLOCKS.c.clock == link.clock, _in(CLOCKS.c.started_at, window))
            )
        else:
            bad = _count_if(FEEDBACK.c.score <= 2)
            statement = (
                select(CASES.c.owner, func.count(), bad)
                .select_from(FEEDBACK.join(CASES, CASES.c.case_id == FEEDBACK.c.case_id))
                .where(*cell, _in(FEEDBACK.c.at, window))
            )
        rows = session.execute(
            statement.group_by(CASES.c.owner).order_by(bad.desc(), CASES.c.owner).limit(NEED_AGENTS)
        ).all()
        needs.append(
            TrainingNeed(
                measure=link.measure,
                category=link.category,
                channel=link.channel,
                department=link.department,
                clock=link.clock,
                sentence_en=f"Suggested training: {link.sentence_en}",
                sentence_zh=f"建议培训：{link.sentence_zh}",
                agents=[NeedAgent(agent=a, count=int(n), bad=int(b)) for a, n, b in rows if b],
            )
        )
    return needs


# --- staff suggestions (R6.5) ----------------------------------------------------------------


def add_suggestion(session: Session, line: SuggestionLine) -> None:
    session.execute(SUGGESTIONS.insert().values(**line.model_dump()))


def _line(row: Any) -> SuggestionLine:
    return SuggestionLine(
        suggestion_id=row.suggestion_id,
        author=row.author,
        role=row.role,
        title=row.title,
        text=row.text,
        category=row.category,
        created_at=_aware(row.created_at),
        status=SuggestionStatus(row.status),
        decided_by=row.decided_by,
        decided_at=_aware(row.decided_at) if row.decided_at is not None else None,
        reason=row.reason,
        action_id=row.action_id,
    )


def get_suggestion(session: Session, suggestion_id: str) -> SuggestionLine | None:
    row = session.execute(
        select(SUGGESTIONS).where(SUGGESTIONS.c.suggestion_id == suggestion_id)
    ).first()
    return None if row is None else _line(row)


def decide_suggestion(
    session: Session,
    suggestion_id: str,
    *,
    status: SuggestionStatus,
    by: str,
    reason: str | None,
    action_id: str | None,
) -> bool:
    """Decide an open suggestion; False when it was decided already (nothing written)."""
    result = session.execute(
        update(SUGGESTIONS)
        .where(
            SUGGESTIONS.c.suggestion_id == suggestion_id,
            SUGGESTIONS.c.status == SuggestionStatus.OPEN.value,
        )
        .values(
            status=status.value,
            decided_by=by,
            decided_at=datetime.now(UTC),
            reason=reason,
            action_id=action_id,
        )
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def list_suggestions(
    session: Session, *, status: SuggestionStatus | None = None, limit: int = 100
) -> list[SuggestionLine]:
    statement = select(SUGGESTIONS).order_by(
        SUGGESTIONS.c.created_at.desc(), SUGGESTIONS.c.suggestion_id
    )
    if status is not None:
        statement = statement.where(SUGGESTIONS.c.status == status.value)
    return [_line(r) for r in session.execute(statement.limit(limit)).all()]


def suggestions_of(session: Session, window: Window, *, limit: int) -> Suggestions:
    """Suggestions made in the period: accepted (with their action), declined (with
    the reason) and still waiting."""
    made = _in(SUGGESTIONS.c.created_at, window)
    counts = dict(
        session.execute(
            select(SUGGESTIONS.c.status, func.count()).where(made).group_by(SUGGESTIONS.c.status)
        ).all()
    )

    def of(status: SuggestionStatus) -> list[SuggestionLine]:
        rows = session.execute(
            select(SUGGESTIONS)
            .where(made, SUGGESTIONS.c.status == status.value)
            .order_by(SUGGESTIONS.c.created_at, SUGGESTIONS.c.suggestion_id)
            .limit(limit)
        ).all()
        return [_line(r) for r in rows]

    return Suggestions(
        total=sum(int(n) for n in counts.values()),
        open=int(counts.get(SuggestionStatus.OPEN.value, 0)),
        accepted=of(SuggestionStatus.ACCEPTED),
        declined=of(SuggestionStatus.DECLINED),
        waiting=of(SuggestionStatus.OPEN),
    )
