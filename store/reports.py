"""The monthly analysis and the quarterly evaluation as SQL aggregates (R6.2, R6.4).

Every figure is a ``GROUP BY``, a ``SUM(CASE ...)`` or a window function that runs
the same on SQLite and PostgreSQL; only aggregates and bounded lists come back to
Python, never the cases themselves. Periods are local months and quarters in the
policy's time zone, turned into UTC instants here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Interval,
    Numeric,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
)
from sqlalchemy.sql import Select
from sqlmodel import Session

from contracts.periods import Period, ReportKind, add_months
from contracts.reports import ReportRules
from store.idempotent import table_of
from store.report_models import (
    Breach,
    ClockChannelShare,
    ClockFigures,
    Comment,
    Count,
    Finding,
    FindingNotePublic,
    Headline,
    MonthlyReport,
    QuarterlyReport,
    Recurring,
    RecurringProblem,
    RemedyFigures,
    Reopens,
    RepeatComplaint,
    Satisfaction,
    Volumes,
    WeakLink,
    WeekVolume,
)
from store.report_tables import CaseClockRow, FindingNote, ReportRevision
from store.tables import CaseEventRow, CaseRow, FeedbackRecord, RemedyLedgerEntry

CASES = table_of(CaseRow)
CLOCKS = table_of(CaseClockRow)
EVENTS = table_of(CaseEventRow)
FEEDBACK = table_of(FeedbackRecord)
REMEDIES = table_of(RemedyLedgerEntry)
REVISIONS = table_of(ReportRevision)
NOTES = table_of(FindingNote)

# The survey is the customer's window, not the bank's promise: not a service clock.
SURVEY = "survey"
MET, BREACHED, RUNNING, PAUSED = "met", "breached", "running", "paused"
NONE_LABEL = "—"

CLOCK_LABELS: dict[str, tuple[str, str]] = {
    "first_response": ("first responses", "首次响应"),
    "department_plan": ("department plans", "部门处理方案"),
    "department_result": ("department results", "部门处理结果"),
    "customer_update": ("customer updates", "客户进展告知"),
    "investigation": ("investigations", "投诉调查"),
    "final_reply": ("final replies", "最终答复"),
    "regulator_reply": ("replies within the regulator's limit", "监管时限内答复"),
}


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime


def local_midnight(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def window_of(period: Period, tz: str) -> Window:
    return Window(local_midnight(period.start, tz), local_midnight(period.end, tz))


def _in(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.start, column < window.end)


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{round(value * 100)}%"


# --- volumes -----------------------------------------------------------------------------


def volumes(session: Session, window: Window) -> Volumes:
    opened = _in(CASES.c.opened_at, window)
    total = session.execute(select(func.count()).select_from(CASES).where(opened)).scalar_one()

    def by(column: Any) -> list[Count]:
        rows = session.execute(
            select(column, func.count()).where(opened).group_by(column).order_by(column)
        ).all()
        counts = [Count(key=key, count=n) for key, n in rows]
        return sorted(counts, key=lambda c: (-c.count, c.key or ""))

    return Volumes(
        total=total,
        by_kind=by(CASES.c.kind),
        by_channel=by(CASES.c.channel),
        by_category=by(CASES.c.category),
        by_product=by(CASES.c.product),
        by_department=by(CASES.c.department),
    )


def weekly(session: Session, period: Period, tz: str) -> list[WeekVolume]:
    """Cases opened per local week (weeks start on Monday; the first and last are cut
    at the period's edges)."""
    starts: list[date] = [period.start]
    day = period.start + timedelta(days=7 - period.start.weekday())
    while day < period.end:
        starts.append(day)
        day += timedelta(days=7)
    edges = [*starts, period.end]
    columns = [
        _count_if(
            _in(
                CASES.c.opened_at,
                Window(local_midnight(edges[i], tz), local_midnight(edges[i + 1], tz)),
            )
        )
        for i in range(len(starts))
    ]
    whole = window_of(period, tz)
    row = session.execute(select(*columns).where(_in(CASES.c.opened_at, whole))).one()
    return [
        WeekVolume(week_start=s.isoformat(), count=int(n)) for s, n in zip(starts, row, strict=True)
    ]


# --- clocks ------------------------------------------------------------------------------


def _service_clocks(window: Window) -> ColumnElement[bool]:
    return and_(CLOCKS.c.clock != SURVEY, _in(CLOCKS.c.started_at, window))


_ON_TIME = CLOCKS.c.status == MET
_LATE = CLOCKS.c.status == BREACHED
_MET_LATE = and_(_LATE, CLOCKS.c.met_at.is_not(None))
_OPEN_BREACH = and_(_LATE, CLOCKS.c.met_at.is_(None))
_DECIDED = CLOCKS.c.status.in_([MET, BREACHED])


def _percentiles(session: Session, window: Window) -> dict[str, tuple[int | None, int | None]]:
    """p50 and p90 (nearest rank: the value at rank ceil(p * n)) of start-to-met."""
    ranked = (
        select(
            CLOCKS.c.clock.label("clock"),
            CLOCKS.c.seconds_to_meet.label("seconds"),
            func.row_number()
            .over(partition_by=CLOCKS.c.clock, order_by=CLOCKS.c.seconds_to_meet)
            .label("rank"),
            func.count().over(partition_by=CLOCKS.c.clock).label("n"),
        )
        .where(_service_clocks(window), CLOCKS.c.met_at.is_not(None))
        .subquery()
    )
    # ceil(n / 2) and ceil(9n / 10) in integer arithmetic, the same on both databases.
    p50_rank = (ranked.c.n + 1) // 2
    p90_rank = (ranked.c.n * 9 + 9) // 10
    rows = session.execute(
        select(
            ranked.c.clock,
            func.max(case((ranked.c.rank == cast(p50_rank, Integer), ranked.c.seconds))),
            func.max(case((ranked.c.rank == cast(p90_rank, Integer), ranked.c.seconds))),
        )
        .where(ranked.c.rank.in_([cast(p50_rank, Integer), cast(p90_rank, Integer)]))
        .group_by(ranked.c.clock)
    ).all()
    return {name: (p50, p90) for name, p50, p90 in rows}


def clock_figures(session: Session, window: Window) -> list[ClockFigures]:
    rows = session.execute(
        select(
            CLOCKS.c.clock,
            func.count(),
            _count_if(_ON_TIME),
            _count_if(_MET_LATE),
            _count_if(_OPEN_BREACH),
            _count_if(CLOCKS.c.status.in_([RUNNING, PAUSED])),
        )
        .where(_service_clocks(window))
        .group_by(CLOCKS.c.clock)
        .order_by(CLOCKS.c.clock)
    ).all()
    percentiles = _percentiles(session, window)
    figures = []
    for name, started, on_time, late, open_breach, running in rows:
        p50, p90 = percentiles.get(name, (None, None))
        figures.append(
            ClockFigures(
                clock=name,
                started=started,
                met_on_time=int(on_time),
                met_late=int(late),
                breached_open=int(open_breach),
                still_running=int(running),
                on_time_share=_share(int(on_time), int(on_time) + int(late) + int(open_breach)),
                p50_seconds=p50,
                p90_seconds=p90,
            )
        )
    return figures


def on_time_by_channel(session: Session, window: Window) -> list[ClockChannelShare]:
    rows = session.execute(
        select(CLOCKS.c.clock, CASES.c.channel, _count_if(_DECIDED), _count_if(_ON_TIME))
        .select_from(CLOCKS.join(CASES, CASES.c.case_id == CLOCKS.c.case_id))
        .where(_service_clocks(window))
        .group_by(CLOCKS.c.clock, CASES.c.channel)
        .order_by(CLOCKS.c.clock, CASES.c.channel)
    ).all()
    return [
        ClockChannelShare(
            clock=name,
            channel=channel,
            decided=int(decided),
            on_time=int(on_time),
            on_time_share=_share(int(on_time), int(decided)),
        )
        for name, channel, decided, on_time in rows
    ]


def breaches(session: Session, window: Window, *, as_of: datetime, limit: int) -> list[Breach]:
    """The most late breaches first: met late (by how late) and still open (by how
    long past the deadline at ``as_of``)."""
    base = (
        select(
            CLOCKS.c.case_id,
            CLOCKS.c.clock,
            CLOCKS.c.deadline,
            CLOCKS.c.met_at,
            CLOCKS.c.late_seconds,
            CASES.c.category,
            CASES.c.channel,
            CASES.c.department,
        )
        .select_from(CLOCKS.join(CASES, CASES.c.case_id == CLOCKS.c.case_id))
        .where(_service_clocks(window), CLOCKS.c.deadline.is_not(None))
    )
    met_late = session.execute(
        base.where(_MET_LATE)
        .order_by(CLOCKS.c.late_seconds.desc(), CLOCKS.c.case_id, CLOCKS.c.clock)
        .limit(limit)
    ).all()
    still_open = session.execute(
        base.where(_OPEN_BREACH)
        .order_by(CLOCKS.c.deadline, CLOCKS.c.case_id, CLOCKS.c.clock)
        .limit(limit)
    ).all()
    found: list[Breach] = []
    for row in [*met_late, *still_open]:
        deadline = _aware(row.deadline)
        late = (
            row.late_seconds if row.met_at is not None else int((as_of - deadline).total_seconds())
        )
        found.append(
            Breach(
                case_id=row.case_id,
                clock=row.clock,
                deadline=deadline,
                met_at=_aware(row.met_at) if row.met_at is not None else None,
                late_seconds=late,
                category=row.category,
                channel=row.channel,
                department=row.department,
            )
        )
    found.sort(key=lambda b: (-b.late_seconds, b.case_id, b.clock))
    return found[:limit]


def _aware(moment: datetime) -> datetime:
    """Core selects skip the column type's conversion on some paths: make it UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- satisfaction, remedies, reopens -------------------------------------------------------


def satisfaction(session: Session, window: Window, *, limit: int) -> Satisfaction:
    sent, answered = session.execute(
        select(func.count(), _count_if(CLOCKS.c.met_at.is_not(None))).where(
            CLOCKS.c.clock == SURVEY, _in(CLOCKS.c.started_at, window)
        )
    ).one()
    given = _in(FEEDBACK.c.at, window)
    distribution = {str(score): 0 for score in range(1, 6)}
    for score, n in session.execute(
        select(FEEDBACK.c.score, func.count()).where(given).group_by(FEEDBACK.c.score)
    ).all():
        distribution[str(score)] = n
    responses = sum(distribution.values())
    total_score = sum(int(score) * n for score, n in distribution.items())
    with_comment = and_(given, FEEDBACK.c.comment.is_not(None), FEEDBACK.c.comment != "")
    comments_total = session.execute(
        select(func.count()).select_from(FEEDBACK).where(with_comment)
    ).scalar_one()
    comments = [
        Comment(case_id=r.case_id, score=r.score, comment=r.comment, at=_aware(r.at))
        for r in session.execute(
            select(FEEDBACK.c.case_id, FEEDBACK.c.score, FEEDBACK.c.comment, FEEDBACK.c.at)
            .where(with_comment)
            .order_by(FEEDBACK.c.at, FEEDBACK.c.feedback_id)
            .limit(limit)
        ).all()
    ]
    return Satisfaction(
        surveys_sent=sent,
        surveys_answered=int(answered),
        response_rate=_share(int(answered), sent),
        responses=responses,
        mean=total_score / responses if responses else None,
        distribution=distribution,
        comments_total=comments_total,
        comments=comments,
    )


def remedies(session: Session, window: Window) -> list[RemedyFigures]:
    # Whole cents as integers: exact on both databases (SQLite stores decimal text).
    cents = cast(func.round(cast(REMEDIES.c.amount, Numeric(14, 2)) * 100), Integer)
    rows = session.execute(
        select(REMEDIES.c.kind, REMEDIES.c.currency, func.count(), func.sum(cents))
        .where(_in(REMEDIES.c.recorded_at, window))
        .group_by(REMEDIES.c.kind, REMEDIES.c.currency)
        .order_by(REMEDIES.c.kind, REMEDIES.c.currency)
    ).all()
    return [
        RemedyFigures(
            kind=kind,
            currency=currency,
            count=n,
            amount=str((Decimal(int(total or 0)) / 100).quantize(Decimal("0.01"))),
        )
        for kind, currency, n, total in rows
    ]


def reopens(session: Session, window: Window) -> Reopens:
    """Cases reopened in the period against cases closed in it (timeline events)."""

    def cases_with(event: str) -> int:
        count: int = session.execute(
            select(func.count(distinct(EVENTS.c.case_id))).where(
                EVENTS.c.type == event, _in(EVENTS.c.at, window)
            )
        ).scalar_one()
        return count

    closed, reopened = cases_with("closed"), cases_with("reopened")
    return Reopens(closed=closed, reopened=reopened, rate=_share(reopened, closed))


# --- weak links ----------------------------------------------------------------------------


def _cell(category: str, channel: str, department: str | None) -> str:
    return f"{category} / {channel} / {department or NONE_LABEL}"


def weak_links(
    session: Session, window: Window, clocks: Sequence[ClockFigures], rules: ReportRules
) -> list[WeakLink]:
    """Cells worse than the bank, ranked by how far: on-time share per clock, and the
    mean satisfaction score; each needs ``weak_link_min_count`` to be ranked."""
    bank: dict[str, float] = {
        c.clock: c.on_time_share for c in clocks if c.on_time_share is not None
    }
    decided = _count_if(_DECIDED)
    rows = session.execute(
        select(
            CASES.c.category,
            CASES.c.channel,
            CASES.c.department,
            CLOCKS.c.clock,
            decided,
            _count_if(_LATE),
        )
        .select_from(CLOCKS.join(CASES, CASES.c.case_id == CLOCKS.c.case_id))
        .where(_service_clocks(window))
        .group_by(CASES.c.category, CASES.c.channel, CASES.c.department, CLOCKS.c.clock)
        .having(decided >= rules.weak_link_min_count)
    ).all()
    ranked: list[tuple[float, WeakLink]] = []
    for category, channel, department, name, n, late in rows:
        n, late = int(n), int(late)
        share = (n - late) / n
        bank_share = bank.get(name)
        if bank_share is None or share >= bank_share:
            continue
        en, zh = CLOCK_LABELS.get(name, (name, name))
        cell = _cell(category, channel, department)
        link = WeakLink(
            measure="on_time",
            category=category,
            channel=channel,
            department=department,
            clock=name,
            count=n,
            bad=late,
            value=share,
            bank_value=bank_share,
            sentence_en=(
                f"{cell}: {late} of {n} {en} late, {_pct(late / n)}; bank {_pct(1 - bank_share)}."
            ),
            sentence_zh=(
                f"{cell}：{n} 个{zh}中 {late} 个超时，占 {_pct(late / n)}；"
                f"全行 {_pct(1 - bank_share)}。"
            ),
        )
        ranked.append((bank_share - share, link))

    given = _in(FEEDBACK.c.at, window)
    scores = session.execute(
        select(func.count(), func.coalesce(func.sum(FEEDBACK.c.score), 0)).where(given)
    ).one()
    if scores[0]:
        bank_mean = int(scores[1]) / scores[0]
        answers = func.count()
        for category, channel, department, n, total, low in session.execute(
            select(
                CASES.c.category,
                CASES.c.channel,
                CASES.c.department,
                answers,
                func.sum(FEEDBACK.c.score),
                _count_if(FEEDBACK.c.score <= 2),
            )
            .select_from(FEEDBACK.join(CASES, CASES.c.case_id == FEEDBACK.c.case_id))
            .where(given)
            .group_by(CASES.c.category, CASES.c.channel, CASES.c.department)
            .having(answers >= rules.weak_link_min_count)
        ).all():
            mean = int(total) / n
            if mean >= bank_mean:
                continue
            cell = _cell(category, channel, department)
            link = WeakLink(
                measure="satisfaction",
                category=category,
                channel=channel,
                department=department,
                count=n,
                bad=int(low),
                value=mean,
                bank_value=bank_mean,
                sentence_en=(
                    f"{cell}: mean satisfaction {mean:.2f} from {n} answers, {int(low)} scoring"
                    f" 1-2; bank {bank_mean:.2f}."
                ),
                sentence_zh=(
                    f"{cell}：{n} 份评价平均 {mean:.2f} 分，其中 {int(low)} 份为 1-2 分；"
                    f"全行 {bank_mean:.2f} 分。"
                ),
            )
            # Both measures ranked on one scale: the gap as a share of the bank's value.
            ranked.append(((bank_mean - mean) / 4, link))
    ranked.sort(
        key=lambda item: (
            -item[0],
            item[1].measure,
            item[1].category,
            item[1].channel,
            item[1].department or "",
            item[1].clock or "",
        )
    )
    return [link for _, link in ranked[: rules.weak_link_limit]]


# --- recurring problems ----------------------------------------------------------------


def recurring_problems(
    session: Session, period: Period, tz: str, rules: ReportRules
) -> list[RecurringProblem]:
    """Category and product whose volume in the period is well above the mean of the
    ``trailing_months`` months before it."""
    months = period_months(period)
    current = window_of(period, tz)
    trailing = Window(
        local_midnight(add_months(period.start, -rules.trailing_months), tz), current.start
    )
    this = _count_if(_in(CASES.c.opened_at, current))
    before = _count_if(_in(CASES.c.opened_at, trailing))
    rows = session.execute(
        select(CASES.c.category, CASES.c.product, this, before)
        .where(CASES.c.opened_at >= trailing.start, CASES.c.opened_at < current.end)
        .group_by(CASES.c.category, CASES.c.product)
        .having(this >= rules.recurring_min_count)
    ).all()
    found = []
    for category, product, n, prior in rows:
        n = int(n)
        # The trailing level, per period of this one's length.
        mean = int(prior) / rules.trailing_months * months
        if n < rules.recurring_ratio * mean or (mean == 0 and n < rules.recurring_min_count):
            continue
        label = f"{category} / {product or NONE_LABEL}"
        found.append(
            RecurringProblem(
                category=category,
                product=product,
                count=n,
                trailing_mean=mean,
                sentence_en=(
                    f"{label}: {n} cases, against {mean:.1f} a period over the"
                    f" {rules.trailing_months} months before."
                ),
                sentence_zh=(
                    f"{label}：本期 {n} 件，前 {rules.trailing_months} 个月平均每期 {mean:.1f} 件。"
                ),
            )
        )
    found.sort(key=lambda p: (-(p.count - p.trailing_mean), p.category, p.product or ""))
    return found


def period_months(period: Period) -> int:
    return 1 if period.kind is ReportKind.MONTHLY else 3


def _within_days_before(later: Any, earlier: Any, days: int, dialect: str) -> ColumnElement[bool]:
    """``later - days <= earlier <= later``."""
    if dialect == "sqlite":
        return and_(
            func.julianday(earlier) >= func.julianday(later) - days,
            func.julianday(earlier) <= func.julianday(later),
        )
    return and_(earlier >= later - literal(timedelta(days=days), Interval()), earlier <= later)


def repeat_complaints(
    session: Session, window: Window, rules: ReportRules
) -> tuple[int, list[RepeatComplaint]]:
    """Complaints opened in the period by a customer whose other complaint was closed
    in the ``repeat_window_days`` before."""
    new = CASES.alias("new_case")
    old = CASES.alias("old_case")
    closed = EVENTS.alias("closed_event")
    dialect = session.get_bind().dialect.name
    pairs = (
        select(
            new.c.customer_id,
            new.c.case_id,
            new.c.opened_at,
            old.c.case_id.label("previous_case_id"),
            func.max(closed.c.at).label("previous_closed_at"),
        )
        .select_from(
            new.join(
                old,
                and_(
                    old.c.customer_id == new.c.customer_id,
                    old.c.case_id != new.c.case_id,
                    old.c.kind == "complaint",
                ),
            ).join(closed, and_(closed.c.case_id == old.c.case_id, closed.c.type == "closed"))
        )
        .where(
            new.c.kind == "complaint",
            _in(new.c.opened_at, window),
            _within_days_before(new.c.opened_at, closed.c.at, rules.repeat_window_days, dialect),
        )
        .group_by(new.c.customer_id, new.c.case_id, new.c.opened_at, old.c.case_id)
    )
    subquery = pairs.subquery()
    total = session.execute(select(func.count(distinct(subquery.c.case_id)))).scalar_one()
    rows = session.execute(
        pairs.order_by(new.c.opened_at, new.c.case_id, old.c.case_id).limit(rules.list_limit)
    ).all()
    return total, [
        RepeatComplaint(
            customer_id=r.customer_id,
            case_id=r.case_id,
            opened_at=_aware(r.opened_at),
            previous_case_id=r.previous_case_id,
            previous_closed_at=_aware(r.previous_closed_at),
        )
        for r in rows
    ]


# --- the reports -----------------------------------------------------------------------


def monthly_report(
    session: Session, period: Period, *, tz: str, rules: ReportRules, as_of: datetime
) -> MonthlyReport:
    window = window_of(period, tz)
    clocks = clock_figures(session, window)
    repeat_total, repeats = repeat_complaints(session, window, rules)
    figures = {c.clock: c for c in clocks}
    return MonthlyReport(
        period=period.label,
        timezone=tz,
        starts_at=window.start,
        ends_at=window.end,
        as_of=as_of,
        volumes=volumes(session, window),
        weekly=weekly(session, period, tz),
        clocks=clocks,
        on_time_by_channel=on_time_by_channel(session, window),
        breaches_total=sum(f.met_late + f.breached_open for f in figures.values()),
        breaches=breaches(session, window, as_of=as_of, limit=rules.list_limit),
        satisfaction=satisfaction(session, window, limit=rules.list_limit),
        remedies=remedies(session, window),
        reopens=reopens(session, window),
        weak_links=weak_links(session, window, clocks, rules),
        recurring=Recurring(
            problems=recurring_problems(session, period, tz, rules),
            repeat_complaints_total=repeat_total,
            repeat_complaints=repeats,
        ),
    )


def headline(session: Session, period: Period, *, tz: str, rules: ReportRules) -> Headline:
    window = window_of(period, tz)
    vols = volumes(session, window)
    clocks = clock_figures(session, window)
    on_time = sum(c.met_on_time for c in clocks)
    decided = sum(c.met_on_time + c.met_late + c.breached_open for c in clocks)
    sat = satisfaction(session, window, limit=1)
    repeat_total, _ = repeat_complaints(session, window, rules)
    return Headline(
        cases=vols.total,
        complaints=next((c.count for c in vols.by_kind if c.key == "complaint"), 0),
        on_time_share=_share(on_time, decided),
        clock_on_time={c.clock: c.on_time_share for c in clocks},
        breaches=sum(c.met_late + c.breached_open for c in clocks),
        satisfaction_mean=sat.mean,
        response_rate=sat.response_rate,
        remedies=sum(r.count for r in remedies(session, window)),
        reopen_rate=reopens(session, window).rate,
        repeat_complaints=repeat_total,
    )


def finding_id(*parts: str | None) -> str:
    """Stable across re-runs: notes attach to a finding, not to one revision."""
    return "f-" + hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:12]


def quarterly_report(
    session: Session, period: Period, *, tz: str, rules: ReportRules, as_of: datetime
) -> QuarterlyReport:
    window = window_of(period, tz)
    previous = period.previous()
    current_head = headline(session, period, tz=tz, rules=rules)
    previous_head = headline(session, previous, tz=tz, rules=rules)
    clocks = clock_figures(session, window)
    links = weak_links(session, window, clocks, rules)
    findings: list[Finding] = []
    for name, share in sorted(current_head.clock_on_time.items()):
        before = previous_head.clock_on_time.get(name)
        if share is None or before is None:
            continue
        drop = (before - share) * 100
        if drop >= rules.deterioration_points:
            en, zh = CLOCK_LABELS.get(name, (name, name))
            findings.append(
                Finding(
                    finding_id=finding_id("on_time_drop", name),
                    title_en=f"On-time {en} fell from {_pct(before)} to {_pct(share)}.",
                    title_zh=f"{zh}按时率由 {_pct(before)} 降至 {_pct(share)}。",
                    evidence={
                        "clock": name,
                        "on_time_share": share,
                        "previous_on_time_share": before,
                        "points": round(drop, 1),
                    },
                )
            )
    now_mean, before_mean = current_head.satisfaction_mean, previous_head.satisfaction_mean
    if (
        now_mean is not None
        and before_mean is not None
        and before_mean - now_mean >= rules.satisfaction_drop
    ):
        findings.append(
            Finding(
                finding_id=finding_id("satisfaction_drop"),
                title_en=f"Mean satisfaction fell from {before_mean:.2f} to {now_mean:.2f}.",
                title_zh=f"平均满意度由 {before_mean:.2f} 降至 {now_mean:.2f}。",
                evidence={"mean": now_mean, "previous_mean": before_mean},
            )
        )
    for link in links:
        findings.append(
            Finding(
                finding_id=finding_id(
                    "weak_link",
                    link.measure,
                    link.category,
                    link.channel,
                    link.department,
                    link.clock,
                ),
                title_en=link.sentence_en,
                title_zh=link.sentence_zh,
                evidence={
                    "measure": link.measure,
                    "category": link.category,
                    "channel": link.channel,
                    "department": link.department,
                    "clock": link.clock,
                    "count": link.count,
                    "bad": link.bad,
                    "value": link.value,
                    "bank_value": link.bank_value,
                },
            )
        )
    if current_head.repeat_complaints:
        findings.append(
            Finding(
                finding_id=finding_id("repeat_complaints"),
                title_en=(
                    f"{current_head.repeat_complaints} complaints came within"
                    f" {rules.repeat_window_days} days of the customer's closed complaint"
                    f" (previous quarter {previous_head.repeat_complaints})."
                ),
                title_zh=(
                    f"{current_head.repeat_complaints} 件投诉发生在该客户上一投诉结案后"
                    f" {rules.repeat_window_days} 天内"
                    f"（上季度 {previous_head.repeat_complaints} 件）。"
                ),
                evidence={
                    "repeat_complaints": current_head.repeat_complaints,
                    "previous_repeat_complaints": previous_head.repeat_complaints,
                },
            )
        )
    return QuarterlyReport(
        period=period.label,
        previous_period=previous.label,
        timezone=tz,
        starts_at=window.start,
        ends_at=window.end,
        as_of=as_of,
        current=current_head,
        previous=previous_head,
        findings=findings,
        weak_links=links,
    )


# --- revisions and notes -------------------------------------------------------------


def store_revision(
    session: Session, *, kind: ReportKind, period: str, run_key: str, data: dict[str, Any]
) -> int:
    """Store a report as the period's next revision; a repeat of the same ``run_key``
    (a retried activity) stores nothing and answers the revision it stored."""
    existing = session.execute(
        select(REVISIONS.c.revision).where(
            REVISIONS.c.kind == kind.value,
            REVISIONS.c.period == period,
            REVISIONS.c.run_key == run_key,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return int(existing)
    latest = session.execute(
        select(func.max(REVISIONS.c.revision)).where(
            REVISIONS.c.kind == kind.value, REVISIONS.c.period == period
        )
    ).scalar_one()
    revision = int(latest or 0) + 1
    session.execute(
        REVISIONS.insert().values(
            kind=kind.value,
            period=period,
            revision=revision,
            run_key=run_key,
            created_at=datetime.now(UTC),
            data=data,
        )
    )
    return revision


@dataclass(frozen=True)
class StoredReport:
    kind: ReportKind
    period: str
    revision: int
    revisions: int
    created_at: datetime
    data: dict[str, Any]


def latest_revision(
    session: Session, *, kind: ReportKind, period: str, revision: int | None = None
) -> StoredReport | None:
    """The newest revision (or the one asked for) of a period's report."""
    where = [REVISIONS.c.kind == kind.value, REVISIONS.c.period == period]
    count = session.execute(select(func.count()).select_from(REVISIONS).where(*where)).scalar_one()
    statement: Select[Any] = select(REVISIONS).where(*where)
    statement = (
        statement.where(REVISIONS.c.revision == revision)
        if revision is not None
        else statement.order_by(REVISIONS.c.revision.desc()).limit(1)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    return StoredReport(kind, period, row.revision, count, _aware(row.created_at), row.data)


def add_finding_note(
    session: Session,
    *,
    note_id: str,
    period: str,
    finding: str,
    author: str,
    causes: str,
    proposals: str,
) -> FindingNotePublic:
    created = datetime.now(UTC)
    session.execute(
        NOTES.insert().values(
            note_id=note_id,
            kind=ReportKind.QUARTERLY.value,
            period=period,
            finding_id=finding,
            author=author,
            causes=causes,
            proposals=proposals,
            created_at=created,
        )
    )
    return FindingNotePublic(
        note_id=note_id,
        finding_id=finding,
        author=author,
        causes=causes,
        proposals=proposals,
        created_at=created,
    )


def finding_notes(session: Session, *, period: str) -> list[FindingNotePublic]:
    rows = session.execute(
        select(NOTES)
        .where(NOTES.c.kind == ReportKind.QUARTERLY.value, NOTES.c.period == period)
        .order_by(NOTES.c.created_at, NOTES.c.note_id)
    ).all()
    return [
        FindingNotePublic(
            note_id=r.note_id,
            finding_id=r.finding_id,
            author=r.author,
            causes=r.causes,
            proposals=r.proposals,
            created_at=_aware(r.created_at),
        )
        for r in rows
    ]
