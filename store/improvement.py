"""Improvement actions in the register (R6.3): the workflow's projection, and the
reports' view of them, each target judged from the register's figures.

An action closed in a month is judged by the next month's report, over that whole
month: the first month the change could show in. The full monthly analysis and
quarterly evaluation are assembled here (``monthly_analysis``,
``quarterly_evaluation``), around ``store.reports``' figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from contracts.improvement import ActionState, ActionStatus, ActionTarget, TargetMeasure
from contracts.periods import Period
from contracts.reports import ReportRules
from store.idempotent import table_of
from store.people import agent_assessment, suggestions_of, training_effects, training_needs
from store.people_models import TargetJudgement
from store.people_tables import ImprovementActionRow
from store.report_models import (
    ImprovementAction,
    ImprovementActions,
    MonthlyReport,
    QuarterlyReport,
)
from store.reports import (
    CASES,
    CLOCKS,
    FEEDBACK,
    Window,
    monthly_report,
    quarterly_report,
    window_of,
)

ACTIONS = table_of(ImprovementActionRow)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- the projection -------------------------------------------------------------------


def upsert_action(session: Session, state: ActionState) -> bool:
    """Write the action's row; an older ``version`` (a late retry) changes nothing."""
    t = state.target
    values: dict[str, Any] = {
        "action_id": state.action_id,
        "title": state.title,
        "source": state.source.value,
        "source_ref": state.source_ref,
        "owner": state.owner,
        "due": state.due,
        "status": state.status.value,
        "measure": t.measure.value,
        "clock": t.clock,
        "category": t.category,
        "channel": t.channel,
        "at_least": t.at_least,
        "created_by": state.created_by,
        "created_at": state.created_at,
        "escalation_level": state.escalation_level,
        "outcome": state.outcome,
        "closed_by": state.closed_by,
        "closed_at": state.closed_at,
        "policy_file": state.policy_proposal.file if state.policy_proposal else None,
        "state": state.model_dump(mode="json"),
        "version": state.version,
        "updated_at": datetime.now(UTC),
    }
    changed = {k: v for k, v in values.items() if k != "action_id"}
    dialect = session.get_bind().dialect.name
    module: Any = sqlite if dialect == "sqlite" else postgresql
    insert = module.insert(ACTIONS).values(values)
    statement = insert.on_conflict_do_update(
        index_elements=["action_id"],
        set_={k: insert.excluded[k] for k in changed},
        where=ACTIONS.c.version < insert.excluded.version,
    )
    return bool(session.execute(statement).rowcount == 1)  # type: ignore[attr-defined]


def action_state(session: Session, action_id: str) -> ActionState | None:
    data = session.execute(
        select(ACTIONS.c.state).where(ACTIONS.c.action_id == action_id)
    ).scalar_one_or_none()
    return None if data is None else ActionState.model_validate(data)


def list_actions(
    session: Session, *, status: ActionStatus | None = None, owner: str | None = None, limit: int
) -> list[ActionState]:
    statement = select(ACTIONS.c.state).order_by(ACTIONS.c.due, ACTIONS.c.action_id)
    if status is not None:
        statement = statement.where(ACTIONS.c.status == status.value)
    if owner is not None:
        statement = statement.where(ACTIONS.c.owner == owner)
    rows = session.execute(statement.limit(limit)).scalars()
    return [ActionState.model_validate(r) for r in rows]


def policy_proposals(session: Session, *, limit: int) -> list[ActionState]:
    """Actions that propose a policy revision, newest first: what operations review."""
    rows = session.execute(
        select(ACTIONS.c.state)
        .where(ACTIONS.c.policy_file.is_not(None))
        .order_by(ACTIONS.c.created_at.desc(), ACTIONS.c.action_id)
        .limit(limit)
    ).scalars()
    return [ActionState.model_validate(r) for r in rows]


# --- judging a target -------------------------------------------------------------------


def judge_target(
    session: Session, target: ActionTarget, period: Period, *, tz: str, min_count: int
) -> TargetJudgement:
    """The target's figure over ``period`` (clocks started, answers given in it)."""
    window = window_of(period, tz)
    scope = []
    if target.category is not None:
        scope.append(
            (
                CASES.c.category
                if target.measure is TargetMeasure.ON_TIME_SHARE
                else FEEDBACK.c.category
            )
            == target.category
        )
    if target.channel is not None:
        scope.append(
            (
                CASES.c.channel
                if target.measure is TargetMeasure.ON_TIME_SHARE
                else FEEDBACK.c.channel
            )
            == target.channel
        )
    value: float | None
    if target.measure is TargetMeasure.ON_TIME_SHARE:
        decided, on_time = session.execute(
            select(
                func.coalesce(
                    func.sum(case((CLOCKS.c.status.in_(["met", "breached"]), 1), else_=0)), 0
                ),
                func.coalesce(func.sum(case((CLOCKS.c.status == "met", 1), else_=0)), 0),
            )
            .select_from(CLOCKS.join(CASES, CASES.c.case_id == CLOCKS.c.case_id))
            .where(
                CLOCKS.c.clock == target.clock,
                CLOCKS.c.started_at >= window.start,
                CLOCKS.c.started_at < window.end,
                *scope,
            )
        ).one()
        count = int(decided)
        value = int(on_time) / count if count else None
    else:
        n, total = session.execute(
            select(func.count(), func.sum(FEEDBACK.c.score)).where(
                FEEDBACK.c.at >= window.start, FEEDBACK.c.at < window.end, *scope
            )
        ).one()
        count = int(n)
        value = int(total) / count if count else None
    if value is None or count < min_count:
        return TargetJudgement(
            period=period.label, value=value, count=count, verdict="too_few_cases"
        )
    reached = value >= target.at_least - 1e-9
    return TargetJudgement(
        period=period.label,
        value=value,
        count=count,
        verdict="reached" if reached else "not_reached",
    )


def _line(state: ActionState, judgement: TargetJudgement | None = None) -> ImprovementAction:
    return ImprovementAction(
        action_id=state.action_id,
        title=state.title,
        status=state.status.value,
        source=state.source.value,
        owner=state.owner,
        due=state.due,
        target=state.target.describe(),
        outcome=state.outcome,
        closed_at=state.closed_at,
        training_ids=state.training_ids,
        policy_proposal=state.policy_proposal.file if state.policy_proposal else None,
        judgement=judgement,
    )


def _states(session: Session, *where: Any, limit: int) -> list[ActionState]:
    rows = session.execute(
        select(ACTIONS.c.state)
        .where(*where)
        .order_by(ACTIONS.c.due, ACTIONS.c.action_id)
        .limit(limit)
    ).scalars()
    return [ActionState.model_validate(r) for r in rows]


def _closed_in(window: Window) -> Any:
    return and_(ACTIONS.c.closed_at >= window.start, ACTIONS.c.closed_at < window.end)


def _open_counts(session: Session, at: datetime) -> tuple[int, int]:
    """Actions open at ``at`` (created before, not closed by then), and of those the
    ones past their due date."""
    still_open = and_(
        ACTIONS.c.created_at < at, or_(ACTIONS.c.closed_at.is_(None), ACTIONS.c.closed_at >= at)
    )
    open_, overdue = session.execute(
        select(
            func.count(), func.coalesce(func.sum(case((ACTIONS.c.due < at, 1), else_=0)), 0)
        ).where(still_open)
    ).one()
    return int(open_), int(overdue)


def monthly_actions(
    session: Session, period: Period, *, tz: str, rules: ReportRules
) -> ImprovementActions:
    window = window_of(period, tz)
    before = window_of(period.previous(), tz)
    limit = rules.list_limit
    judged = [
        _line(
            s,
            judge_target(
                session, s.target, period, tz=tz, min_count=rules.people.action_target_min_cases
            ),
        )
        for s in _states(session, _closed_in(before), limit=limit)
    ]
    closed_now = [_line(s) for s in _states(session, _closed_in(window), limit=limit)]
    overdue = [
        _line(s)
        for s in _states(
            session,
            ACTIONS.c.created_at < window.end,
            ACTIONS.c.due < window.end,
            or_(ACTIONS.c.closed_at.is_(None), ACTIONS.c.closed_at >= window.end),
            limit=limit,
        )
    ]
    open_, late = _open_counts(session, window.end)
    return ImprovementActions(
        available=True, actions=[*judged, *closed_now, *overdue], open=open_, overdue=late
    )


def quarterly_actions(
    session: Session, period: Period, *, tz: str, rules: ReportRules
) -> ImprovementActions:
    window = window_of(period, tz)
    touched = or_(
        and_(ACTIONS.c.created_at >= window.start, ACTIONS.c.created_at < window.end),
        _closed_in(window),
        and_(
            ACTIONS.c.created_at < window.end,
            or_(ACTIONS.c.closed_at.is_(None), ACTIONS.c.closed_at >= window.end),
        ),
    )
    lines = [_line(s) for s in _states(session, touched, limit=rules.list_limit)]
    open_, late = _open_counts(session, window.end)
    return ImprovementActions(available=True, actions=lines, open=open_, overdue=late)


# --- the reports, whole -----------------------------------------------------------------


def monthly_analysis(
    session: Session, period: Period, *, tz: str, rules: ReportRules, as_of: datetime
) -> MonthlyReport:
    """The monthly analysis with its improvement actions and training needs."""
    report = monthly_report(session, period, tz=tz, rules=rules, as_of=as_of)
    return report.model_copy(
        update={
            "improvement_actions": monthly_actions(session, period, tz=tz, rules=rules),
            "training_needs": training_needs(session, window_of(period, tz), report.weak_links),
        }
    )


def quarterly_evaluation(
    session: Session, period: Period, *, tz: str, rules: ReportRules, as_of: datetime
) -> QuarterlyReport:
    """The quarterly evaluation with the agents' assessment, the training effects,
    the staff suggestions and the improvement actions."""
    report = quarterly_report(session, period, tz=tz, rules=rules, as_of=as_of)
    return report.model_copy(
        update={
            "improvement_actions": quarterly_actions(session, period, tz=tz, rules=rules),
            "agents": agent_assessment(session, period, tz=tz, rules=rules.people),
            "trainings": training_effects(session, period, tz=tz, rules=rules.people),
            "suggestions": suggestions_of(session, window_of(period, tz), limit=rules.list_limit),
        }
    )
