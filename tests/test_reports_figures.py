"""Every figure of the monthly and quarterly reports, on SQLite and PostgreSQL,
against values computed here in plain Python over the seed data."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from contracts.periods import ReportKind, month, parse_period, quarter
from policy.reports import report_rules
from store.db import session_scope
from store.reports import monthly_report, quarterly_report, store_revision
from tests.report_seed import AS_OF, Seed, SeedCase, SeedClock, build_seed, write_seed

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
RULES = report_rules()


@pytest.fixture
def seeded(database_url: str) -> tuple[str, Seed]:
    seed = build_seed()
    write_seed(database_url, seed)
    return database_url, seed


def local_month(moment: datetime) -> tuple[int, int]:
    here = moment.astimezone(ZONE)
    return here.year, here.month


def in_month(moment: datetime, year: int, number: int) -> bool:
    return local_month(moment) == (year, number)


def nearest_rank(values: list[int], share: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered) - 1e-9) - 1]


def counts(values: Iterable[str | None]) -> dict[str | None, int]:
    return dict(Counter(values))


def service_clocks(seed: Seed, year: int, number: int) -> list[tuple[SeedCase, SeedClock]]:
    return [
        (case, clock)
        for case in seed.cases
        for clock in case.clocks
        if clock.name != "survey" and in_month(clock.started_at, year, number)
    ]


def test_monthly_report_figures(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    with session_scope(url) as session:
        report = monthly_report(session, month(2026, 11), tz=TZ, rules=RULES, as_of=AS_OF)

    nov = [c for c in seed.cases if in_month(c.opened_at, 2026, 11)]
    assert {"case-0170", "case-0171"} <= {c.case_id for c in nov}  # the month's edges
    assert "case-0172" not in {c.case_id for c in nov}
    v = report.volumes
    assert v.total == len(nov)
    for got, attr in (
        (v.by_kind, "kind"),
        (v.by_channel, "channel"),
        (v.by_category, "category"),
        (v.by_product, "product"),
        (v.by_department, "department"),
    ):
        assert {c.key: c.count for c in got} == counts(getattr(c, attr) for c in nov)

    # Weekly volume: weeks starting on Monday, cut at the month's edges.
    weeks = {w.week_start: w.count for w in report.weekly}
    expected_weeks: Counter[str] = Counter()
    for case in nov:
        day = case.opened_at.astimezone(ZONE).date()
        start = max(day - timedelta(days=day.weekday()), date(2026, 11, 1))
        expected_weeks[start.isoformat()] += 1
    assert weeks == {k: expected_weeks.get(k, 0) for k in weeks}
    assert sum(weeks.values()) == len(nov)
    assert next(iter(weeks)) == "2026-11-01"
    assert "2026-11-30" in weeks

    # Clocks.
    pairs = service_clocks(seed, 2026, 11)
    by_clock: dict[str, list[SeedClock]] = defaultdict(list)
    for _, clock in pairs:
        by_clock[clock.name].append(clock)
    assert {f.clock for f in report.clocks} == set(by_clock)
    for figures in report.clocks:
        mine = by_clock[figures.clock]
        on_time = sum(c.status == "met" for c in mine)
        late = sum(c.status == "breached" and c.met_at is not None for c in mine)
        still = sum(c.status == "breached" and c.met_at is None for c in mine)
        assert figures.started == len(mine)
        assert (figures.met_on_time, figures.met_late, figures.breached_open) == (
            on_time,
            late,
            still,
        )
        assert figures.still_running == sum(c.status == "running" for c in mine)
        assert figures.on_time_share == pytest.approx(on_time / (on_time + late + still))
        met = [int((c.met_at - c.started_at).total_seconds()) for c in mine if c.met_at]
        assert figures.p50_seconds == nearest_rank(met, 0.5)
        assert figures.p90_seconds == nearest_rank(met, 0.9)
    # The seed has every outcome in the month: on time, late, still open.
    assert all(
        sum(getattr(f, a) for f in report.clocks)
        for a in ("met_on_time", "met_late", "breached_open")
    )

    # On-time share per clock and channel.
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for case, clock in pairs:
        if clock.status in ("met", "breached"):
            cells[(clock.name, case.channel)][0] += 1
            cells[(clock.name, case.channel)][1] += clock.status == "met"
    assert {(s.clock, s.channel): [s.decided, s.on_time] for s in report.on_time_by_channel} == {
        k: v for k, v in cells.items()
    } | {(s.clock, s.channel): [0, 0] for s in report.on_time_by_channel if s.decided == 0}

    # Breach list: every breach of the month, the latest first.
    expected_breaches = sorted(
        (
            (
                -int(
                    ((c.met_at or AS_OF) - c.deadline).total_seconds()
                    if c.met_at is None
                    else (c.met_at - c.deadline).total_seconds()
                ),
                case.case_id,
                c.name,
            )
            for case, c in pairs
            if c.status == "breached"
        )
    )
    assert report.breaches_total == len(expected_breaches)
    assert [(-b.late_seconds, b.case_id, b.clock) for b in report.breaches] == expected_breaches

    # Satisfaction.
    surveys = [
        clock
        for case in seed.cases
        for clock in case.clocks
        if clock.name == "survey" and in_month(clock.started_at, 2026, 11)
    ]
    answered = sum(c.met_at is not None for c in surveys)
    given = [f for f in seed.feedback if in_month(f.at, 2026, 11)]
    s = report.satisfaction
    assert (s.surveys_sent, s.surveys_answered) == (len(surveys), answered)
    assert s.response_rate == pytest.approx(answered / len(surveys))
    assert s.responses == len(given)
    assert s.mean == pytest.approx(sum(f.score for f in given) / len(given))
    assert s.distribution == {str(k): sum(f.score == k for f in given) for k in range(1, 6)}
    commented = sorted((f.at, f.case_id, f.comment) for f in given if f.comment)
    assert s.comments_total == len(commented)
    assert [(c.at, c.case_id, c.comment) for c in s.comments] == commented

    # Remedies by kind (exact amounts) and the reopen rate.
    totals: dict[str, list[Decimal | int]] = defaultdict(lambda: [0, Decimal("0.00")])
    for r in seed.remedies:
        if in_month(r.recorded_at, 2026, 11):
            totals[r.kind][0] += 1
            totals[r.kind][1] += r.amount
    assert {r.kind: [r.count, Decimal(r.amount)] for r in report.remedies} == dict(totals)
    assert all(r.currency == "CNY" for r in report.remedies)
    closed = {
        c.case_id
        for c in seed.cases
        for t, at in c.events
        if t == "closed" and in_month(at, 2026, 11)
    }
    reopened = {
        c.case_id
        for c in seed.cases
        for t, at in c.events
        if t == "reopened" and in_month(at, 2026, 11)
    }
    assert (report.reopens.closed, report.reopens.reopened) == (len(closed), len(reopened))
    assert reopened
    assert report.reopens.rate == pytest.approx(len(reopened) / len(closed))

    # Weak links: cells worse than the bank, with enough decided clocks / answers.
    bank_share = {f.clock: f.on_time_share or 0.0 for f in report.clocks}
    expected_links: list[tuple[float, str, tuple[object, ...]]] = []
    cell_clocks: dict[tuple[str, str, str | None, str], list[int]] = defaultdict(lambda: [0, 0])
    for case, clock in pairs:
        if clock.status in ("met", "breached"):
            key = (case.category, case.channel, case.department, clock.name)
            cell_clocks[key][0] += 1
            cell_clocks[key][1] += clock.status == "breached"
    for (cat, ch, dept, name), (n, late) in cell_clocks.items():
        share = (n - late) / n
        if n >= RULES.weak_link_min_count and share < (bank_share[name] or 0):
            expected_links.append(
                (bank_share[name] - share, "on_time", (cat, ch, dept, name, n, late))
            )
    cases_by_id = {c.case_id: c for c in seed.cases}
    bank_mean = sum(f.score for f in given) / len(given)
    cell_scores: dict[tuple[str, str, str | None], list[int]] = defaultdict(list)
    for f in given:
        case = cases_by_id[f.case_id]
        cell_scores[(case.category, case.channel, case.department)].append(f.score)
    for (cat, ch, dept), scores in cell_scores.items():
        mean = sum(scores) / len(scores)
        if len(scores) >= RULES.weak_link_min_count and mean < bank_mean:
            low = sum(x <= 2 for x in scores)
            expected_links.append(
                ((bank_mean - mean) / 4, "satisfaction", (cat, ch, dept, None, len(scores), low))
            )
    expected_links.sort(key=lambda e: (-e[0], e[1], e[2][0], e[2][1], e[2][2] or "", e[2][3] or ""))
    assert expected_links, "the seed must have weak links"
    assert [
        (
            link.measure,
            (link.category, link.channel, link.department, link.clock, link.count, link.bad),
        )
        for link in report.weak_links
    ] == [(m, key) for _, m, key in expected_links[: RULES.weak_link_limit]]
    first = report.weak_links[0]
    assert str(first.count) in first.sentence_en
    assert str(first.bad) in first.sentence_en
    assert str(first.count) in first.sentence_zh

    # Recurring problems: category and product well above their trailing three months.
    this: Counter[tuple[str, str | None]] = Counter()
    trailing: Counter[tuple[str, str | None]] = Counter()
    for case in seed.cases:
        product_key = (case.category, case.product)
        ym = local_month(case.opened_at)
        if ym == (2026, 11):
            this[product_key] += 1
        elif ym in ((2026, 8), (2026, 9), (2026, 10)):
            trailing[product_key] += 1
    flagged = {
        key
        for key, n in this.items()
        if n >= RULES.recurring_min_count and n >= RULES.recurring_ratio * trailing[key] / 3
    }
    assert ("cards", "credit_card") in flagged
    assert {(p.category, p.product) for p in report.recurring.problems} == flagged
    for problem in report.recurring.problems:
        assert problem.count == this[(problem.category, problem.product)]
        assert problem.trailing_mean == pytest.approx(
            trailing[(problem.category, problem.product)] / 3
        )

    # Complaints within 30 days of the same customer's closed complaint.
    repeats = set()
    for new in nov:
        if new.kind != "complaint":
            continue
        for old in seed.cases:
            if old.customer_id != new.customer_id or old.case_id == new.case_id:
                continue
            if old.kind != "complaint":
                continue
            if any(
                t == "closed" and new.opened_at - timedelta(days=30) <= at <= new.opened_at
                for t, at in old.events
            ):
                repeats.add((new.case_id, old.case_id))
    assert ("case-r2", "case-r1") in repeats
    assert report.recurring.repeat_complaints_total == len({n for n, _ in repeats})
    assert {(r.case_id, r.previous_case_id) for r in report.recurring.repeat_complaints} == repeats

    assert report.improvement_actions.available is False
    assert report.improvement_actions.actions == []


def test_quarterly_report_compares_with_the_previous_quarter(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    with session_scope(url) as session:
        report = quarterly_report(session, quarter(2026, 4), tz=TZ, rules=RULES, as_of=AS_OF)
    assert (report.period, report.previous_period) == ("2026-Q4", "2026-Q3")

    def quarter_of(moment: datetime) -> tuple[int, int]:
        year, number = local_month(moment)
        return year, (number - 1) // 3 + 1

    for head, q in ((report.current, (2026, 4)), (report.previous, (2026, 3))):
        cases = [c for c in seed.cases if quarter_of(c.opened_at) == q]
        assert head.cases == len(cases)
        assert head.complaints == sum(c.kind == "complaint" for c in cases)
        clocks = [
            k
            for c in seed.cases
            for k in c.clocks
            if k.name != "survey" and quarter_of(k.started_at) == q
        ]
        decided = [k for k in clocks if k.status in ("met", "breached")]
        assert head.breaches == sum(k.status == "breached" for k in clocks)
        assert head.on_time_share == pytest.approx(
            sum(k.status == "met" for k in decided) / len(decided)
        )
        for name, share in head.clock_on_time.items():
            mine = [k for k in decided if k.name == name]
            assert share == pytest.approx(sum(k.status == "met" for k in mine) / len(mine))
        given = [f for f in seed.feedback if quarter_of(f.at) == q]
        assert head.satisfaction_mean == pytest.approx(sum(f.score for f in given) / len(given))
        surveys = [
            k
            for c in seed.cases
            for k in c.clocks
            if k.name == "survey" and quarter_of(k.started_at) == q
        ]
        assert head.response_rate == pytest.approx(
            sum(k.met_at is not None for k in surveys) / len(surveys)
        )
        assert head.remedies == sum(quarter_of(r.recorded_at) == q for r in seed.remedies)
        closed = {
            c.case_id
            for c in seed.cases
            for t, at in c.events
            if t == "closed" and quarter_of(at) == q
        }
        reopened = {
            c.case_id
            for c in seed.cases
            for t, at in c.events
            if t == "reopened" and quarter_of(at) == q
        }
        assert head.reopen_rate == pytest.approx(len(reopened) / len(closed))

    # Findings: each with its evidence, ids stable across runs.
    assert report.findings
    ids = [f.finding_id for f in report.findings]
    assert len(set(ids)) == len(ids)
    for finding in report.findings:
        assert finding.evidence
        assert finding.title_en
        assert finding.title_zh
    for name, share in report.current.clock_on_time.items():
        before = report.previous.clock_on_time.get(name)
        dropped = (
            share is not None
            and before is not None
            and (before - share) * 100 >= RULES.deterioration_points
        )
        assert dropped == any(
            f.evidence.get("clock") == name and "points" in f.evidence for f in report.findings
        )
    repeat = [f for f in report.findings if "repeat_complaints" in f.evidence]
    assert repeat
    assert repeat[0].evidence["repeat_complaints"] == report.current.repeat_complaints
    with session_scope(url) as session:
        again = quarterly_report(session, quarter(2026, 4), tz=TZ, rules=RULES, as_of=AS_OF)
    assert [f.finding_id for f in again.findings] == ids


def test_revisions_are_added_never_overwritten(database_url: str) -> None:
    with session_scope(database_url, write=True) as session:
        first = store_revision(
            session, kind=ReportKind.MONTHLY, period="2026-11", run_key="a", data={"n": 1}
        )
        retried = store_revision(
            session, kind=ReportKind.MONTHLY, period="2026-11", run_key="a", data={"n": 9}
        )
        second = store_revision(
            session, kind=ReportKind.MONTHLY, period="2026-11", run_key="b", data={"n": 2}
        )
        other = store_revision(
            session, kind=ReportKind.QUARTERLY, period="2026-Q4", run_key="a", data={}
        )
    assert (first, retried, second, other) == (1, 1, 2, 1)
    from store.reports import latest_revision

    with session_scope(database_url) as session:
        latest = latest_revision(session, kind=ReportKind.MONTHLY, period="2026-11")
        older = latest_revision(session, kind=ReportKind.MONTHLY, period="2026-11", revision=1)
    assert latest is not None
    assert (latest.revision, latest.revisions, latest.data) == (
        2,
        2,
        {"n": 2},
    )
    assert older is not None
    assert older.data == {"n": 1}


@pytest.mark.parametrize(
    ("kind", "label", "start", "end"),
    [
        (ReportKind.MONTHLY, "2026-12", date(2026, 12, 1), date(2027, 1, 1)),
        (ReportKind.QUARTERLY, "2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ],
)
def test_periods_parse(kind: ReportKind, label: str, start: date, end: date) -> None:
    period = parse_period(kind, label)
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize("label", ["2026-13", "2026-1", "26-01", "2026-Q5", "2026-11x"])
def test_malformed_periods_are_refused(label: str) -> None:
    from contracts.periods import PeriodError

    with pytest.raises(PeriodError):
        parse_period(ReportKind.QUARTERLY if "Q" in label else ReportKind.MONTHLY, label)


def test_window_is_local_midnight() -> None:
    from store.reports import window_of

    window = window_of(month(2026, 11), TZ)
    assert window.start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_projection_writes_every_column_of_case_clocks() -> None:
    from store.case_clocks import CASE_CLOCKS
    from store.idempotent import table_of
    from store.report_tables import CaseClockRow

    assert list(CASE_CLOCKS.c.keys()) == list(table_of(CaseClockRow).c.keys())
