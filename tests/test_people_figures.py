"""The agents' assessment, the training effect and the training needs, on SQLite and
PostgreSQL, against values computed here in plain Python over the seed data."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from api.report_html import monthly_html, quarterly_html
from contracts.people import SuggestionStatus, TrainingVerdict
from contracts.periods import month, quarter
from policy.reports import report_rules
from store.db import session_scope
from store.improvement import monthly_analysis, quarterly_evaluation
from store.people import (
    NewTraining,
    add_suggestion,
    agent_assessment,
    decide_suggestion,
    record_training,
    training_effects,
)
from store.people_models import SuggestionLine
from tests.report_seed import AS_OF, Seed, SeedCase, build_seed, write_seed

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
RULES = report_rules()
PEOPLE = RULES.people
# Three agents share the team's cases; a new joiner owns only a handful.
AGENTS = ("li.na", "chen.jie", "zhao.lei")
NEW_JOINER = "sun.yue"
HELD_ON = date(2026, 11, 1)
ADDRESSED = ("cards", "loans")


def owned_seed() -> Seed:
    seed = build_seed()
    rng = random.Random(4)
    for case in seed.cases:
        case.owner = rng.choice(AGENTS)
    q4 = [c for c in seed.cases if in_q4(c.opened_at)]
    for case in q4[:2]:  # fewer than agent_min_cases: shown, not ranked
        case.owner = NEW_JOINER
    return seed


@pytest.fixture
def seeded(database_url: str) -> tuple[str, Seed]:
    seed = owned_seed()
    write_seed(database_url, seed)
    return database_url, seed


def in_q4(moment: datetime) -> bool:
    here = moment.astimezone(ZONE)
    return (here.year, here.month) in ((2026, 10), (2026, 11), (2026, 12))


def nearest_rank(values: list[int], share: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered) - 1e-9) - 1]


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZONE).astimezone(UTC)


def test_agent_assessment_and_ranking(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    with session_scope(url) as session:
        team = agent_assessment(session, quarter(2026, 4), tz=TZ, rules=PEOPLE)

    owner_of = {c.case_id: c.owner for c in seed.cases}
    expected: dict[str, dict[str, object]] = {}
    for agent in (*AGENTS, NEW_JOINER):
        mine = [c for c in seed.cases if c.owner == agent]
        clocks = [k for c in mine for k in c.clocks if k.name != "survey" and in_q4(k.started_at)]
        per_clock: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for k in clocks:
            if k.status in ("met", "breached"):
                per_clock[k.name][0] += 1
                per_clock[k.name][1] += k.status == "met"
        first = [
            int((k.met_at - k.started_at).total_seconds())
            for k in clocks
            if k.name == "first_response" and k.met_at is not None
        ]
        answers = [f.score for f in seed.feedback if owner_of[f.case_id] == agent and in_q4(f.at)]
        closed = {c.case_id for c in mine for t, at in c.events if t == "closed" and in_q4(at)}
        reopened = {c.case_id for c in mine for t, at in c.events if t == "reopened" and in_q4(at)}
        remedies = [
            r for r in seed.remedies if owner_of[r.case_id] == agent and in_q4(r.recorded_at)
        ]
        decided = sum(v[0] for v in per_clock.values())
        expected[agent] = {
            "cases": sum(in_q4(c.opened_at) for c in mine),
            "p50": nearest_rank(first, 0.5),
            "p90": nearest_rank(first, 0.9),
            "clocks": {name: tuple(v) for name, v in per_clock.items()},
            "on_time": sum(v[1] for v in per_clock.values()) / decided if decided else None,
            "answers": len(answers),
            "mean": sum(answers) / len(answers) if answers else None,
            "turns": (len(closed), len(reopened)),
            "remedies": (len(remedies), sum((r.amount for r in remedies), Decimal("0"))),
        }

    got = {a.agent: a for a in team.agents}
    assert set(got) == set(expected)
    for agent, want in expected.items():
        a = got[agent]
        assert a.cases == want["cases"], agent
        assert (a.first_response_p50_seconds, a.first_response_p90_seconds) == (
            want["p50"],
            want["p90"],
        )
        assert {c.clock: (c.decided, c.on_time) for c in a.clocks} == want["clocks"]
        assert a.on_time_share == pytest.approx(want["on_time"])
        assert a.satisfaction_answers == want["answers"]
        assert a.satisfaction_mean == pytest.approx(want["mean"])
        assert (a.closed, a.reopened) == want["turns"]
        count, amount = cast(tuple[int, Decimal], want["remedies"])
        assert a.remedies == count
        assert Decimal(a.remedies_amount.get("CNY", "0")) == amount

    # The ranking: agents with enough cases, by on-time share, then satisfaction, then
    # the faster median first response; the new joiner is listed but not ranked.
    eligible = [a for a in expected if expected[a]["cases"] >= PEOPLE.agent_min_cases]  # type: ignore[operator]
    order = sorted(
        eligible,
        key=lambda a: (
            -expected[a]["on_time"],  # type: ignore[operator]
            -(expected[a]["mean"] or 0),  # type: ignore[operator]
            expected[a]["p50"],
        ),
    )
    assert [a.agent for a in team.agents if a.rank is not None] == order
    assert [got[a].rank for a in order] == list(range(1, len(order) + 1))
    assert team.ranked == len(order) == len(AGENTS)
    assert 0 < expected[NEW_JOINER]["cases"] < PEOPLE.agent_min_cases  # type: ignore[operator]
    assert got[NEW_JOINER].rank is None
    assert team.agents[-1].agent == NEW_JOINER


def effect_side(seed: Seed, agent: str, start: datetime, end: datetime) -> dict[str, object]:
    cases = [
        c
        for c in seed.cases
        if c.owner == agent and c.category in ADDRESSED and start <= c.opened_at < end
    ]
    ids = {c.case_id for c in cases}
    decided = [
        k for c in cases for k in c.clocks if k.name != "survey" and k.status in ("met", "breached")
    ]
    on_time = sum(k.status == "met" for k in decided)
    scores = [f.score for f in seed.feedback if f.case_id in ids]
    return {
        "cases": len(cases),
        "share": on_time / len(decided) if decided else None,
        "decided": len(decided),
        "mean": sum(scores) / len(scores) if scores else None,
    }


def test_training_effect_before_and_after(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    attendees = [*AGENTS, NEW_JOINER]
    with session_scope(url, write=True) as session:
        record_training(
            session,
            NewTraining(
                training_id="training-t1",
                topic="Card fee disputes",
                held_on=HELD_ON,
                trainer="wang.fang",
                attendees=attendees,
                categories=list(ADDRESSED),
                material_url="https://intranet.example/training/card-fees",
                action_id=None,
                recorded_by="wang.fang",
            ),
        )
    with session_scope(url) as session:
        effects = training_effects(session, quarter(2026, 4), tz=TZ, rules=PEOPLE)
    assert [e.training_id for e in effects] == ["training-t1"]
    effect = effects[0]
    window = timedelta(days=PEOPLE.training_window_days)
    before = (local_midnight(HELD_ON - window), local_midnight(HELD_ON))
    next_day = HELD_ON + timedelta(days=1)
    after = (local_midnight(next_day), local_midnight(next_day + window))
    verdicts = {}
    for line in effect.attendees:
        b = effect_side(seed, line.agent, *before)
        a = effect_side(seed, line.agent, *after)
        assert (line.before.cases, line.after.cases) == (b["cases"], a["cases"]), line.agent
        assert (line.before.decided, line.after.decided) == (b["decided"], a["decided"])
        assert line.before.on_time_share == pytest.approx(b["share"])
        assert line.after.on_time_share == pytest.approx(a["share"])
        assert line.before.satisfaction_mean == pytest.approx(b["mean"])
        assert line.after.satisfaction_mean == pytest.approx(a["mean"])
        if min(cast(int, b["cases"]), cast(int, a["cases"])) < PEOPLE.training_min_cases:
            want = TrainingVerdict.TOO_FEW_CASES
        else:
            points = (a["share"] - b["share"]) * 100  # type: ignore[operator]
            assert line.on_time_points == pytest.approx(round(points, 1))
            want = (
                TrainingVerdict.IMPROVED
                if points >= PEOPLE.training_change_points
                else TrainingVerdict.WORSE
                if points <= -PEOPLE.training_change_points
                else TrainingVerdict.UNCHANGED
            )
        assert line.verdict is want, line.agent
        verdicts[line.agent] = want
    assert [x.agent for x in effect.attendees] == sorted(attendees)
    # The new joiner's handful of cases cannot tell; the others' can.
    assert verdicts[NEW_JOINER] is TrainingVerdict.TOO_FEW_CASES
    assert set(verdicts.values()) - {TrainingVerdict.TOO_FEW_CASES}

    # The quarterly evaluation carries the same sections.
    with session_scope(url) as session:
        report = quarterly_evaluation(session, quarter(2026, 4), tz=TZ, rules=RULES, as_of=AS_OF)
    assert report.trainings == effects
    assert report.agents is not None
    assert report.agents.ranked == len(AGENTS)
    assert report.suggestions is not None
    assert report.suggestions.total == 0
    assert report.improvement_actions.available

    # The HTML page shows them, in both languages.
    meta = {"revision": 1, "revisions": 1, "created_at": "2026-12-20T00:00:00+00:00"}
    data = report.model_dump(mode="json")
    chinese, english = (quarterly_html(data, meta, [], lang) for lang in ("zh", "en"))
    assert "培训效果" in chinese
    assert "案件太少，无法判断" in chinese
    assert "too few cases to tell" in english
    assert NEW_JOINER in english
    assert "not ranked (fewer than 5 cases)" in english
    # A revision stored before the sections existed says so.
    older = {k: v for k, v in data.items() if k not in ("agents", "trainings", "suggestions")}
    older["improvement_actions"] = {"available": False, "actions": []}
    assert "before improvement actions were tracked" in quarterly_html(older, meta, [], "en")


def test_training_needs_follow_the_weak_links(seeded: tuple[str, Seed]) -> None:
    url, seed = seeded
    with session_scope(url) as session:
        report = monthly_analysis(session, month(2026, 11), tz=TZ, rules=RULES, as_of=AS_OF)
    assert report.weak_links
    assert len(report.training_needs) == len(report.weak_links)
    start, end = local_midnight(date(2026, 11, 1)), local_midnight(date(2026, 12, 1))
    for link, need in zip(report.weak_links, report.training_needs, strict=True):
        assert (need.category, need.channel, need.clock) == (
            link.category,
            link.channel,
            link.clock,
        )
        cell: list[SeedCase] = [
            c
            for c in seed.cases
            if (c.category, c.channel, c.department)
            == (link.category, link.channel, link.department)
        ]
        bad: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        if link.measure == "on_time":
            for c in cell:
                for k in c.clocks:
                    if (
                        k.name == link.clock
                        and start <= k.started_at < end
                        and k.status in ("met", "breached")
                    ):
                        bad[c.owner][0] += 1
                        bad[c.owner][1] += k.status == "breached"
        else:
            ids = {c.case_id: c.owner for c in cell}
            for f in seed.feedback:
                if f.case_id in ids and start <= f.at < end:
                    bad[ids[f.case_id]][0] += 1
                    bad[ids[f.case_id]][1] += f.score <= 2
        want = sorted(((a, n, b) for a, (n, b) in bad.items() if b), key=lambda x: (-x[2], x[0]))
        assert [(x.agent, x.count, x.bad) for x in need.agents] == want[:5]
        assert need.sentence_en.startswith("Suggested training: ")
    meta = {"revision": 1, "revisions": 1, "created_at": "2026-12-20T00:00:00+00:00"}
    page = monthly_html(report.model_dump(mode="json"), meta, "zh")
    assert "建议培训需求" in page
    assert report.training_needs[0].sentence_zh in page


def test_suggestions_are_listed_in_their_quarter(database_url: str) -> None:
    made = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    lines = [
        SuggestionLine(
            suggestion_id=f"suggestion-{n:012d}",
            author=author,
            role="agent",
            title=title,
            text="...",
            category="cards",
            created_at=made + timedelta(hours=n),
            status=SuggestionStatus.OPEN,
            decided_by=None,
            decided_at=None,
            reason=None,
            action_id=None,
        )
        for n, (author, title) in enumerate(
            [("li.na", "Callback slots"), ("chen.jie", "Fee FAQ"), ("zhao.lei", "Queue signs")]
        )
    ]
    late = lines[0].model_copy(
        update={"suggestion_id": "suggestion-late", "created_at": datetime(2027, 1, 5, tzinfo=UTC)}
    )
    with session_scope(database_url, write=True) as session:
        for line in [*lines, late]:
            add_suggestion(session, line)
        first, second = lines[0].suggestion_id, lines[1].suggestion_id
        accept = SuggestionStatus.ACCEPTED
        assert decide_suggestion(
            session, first, status=accept, by="wang.fang", reason=None, action_id="action-1"
        )
        decline = SuggestionStatus.DECLINED
        assert decide_suggestion(
            session, second, status=decline, by="wang.fang", reason="exists", action_id=None
        )
        # Decided once: a second decision changes nothing.
        assert not decide_suggestion(
            session, second, status=accept, by="wang.fang", reason=None, action_id="x"
        )
    with session_scope(database_url) as session:
        report = quarterly_evaluation(session, quarter(2026, 4), tz=TZ, rules=RULES, as_of=AS_OF)
    found = report.suggestions
    assert found is not None
    assert (found.total, found.open) == (3, 1)
    assert [(s.suggestion_id, s.action_id) for s in found.accepted] == [
        (lines[0].suggestion_id, "action-1")
    ]
    assert [(s.suggestion_id, s.reason) for s in found.declined] == [
        (lines[1].suggestion_id, "exists")
    ]
    assert [s.suggestion_id for s in found.waiting] == [lines[2].suggestion_id]
