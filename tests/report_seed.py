"""A seeded register for the report tests: cases over two quarters (2026-Q3 and Q4)
with on-time, late and open breaches, surveys, remedies and reopened cases.

Written with the register's own store functions (the projection the worker writes),
and kept as plain data so the tests can compute every figure independently.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts.activities import CaseSnapshot
from contracts.case import CaseKind, ClockStatus, ClockView, Priority, Stage, TimelineEvent
from contracts.policy import ClockName
from store.cases import add_case_events, upsert_case
from store.db import session_scope
from store.idempotent import insert_once
from store.tables import FeedbackRecord, RemedyLedgerEntry

SEED_START = datetime(2026, 5, 31, 16, 0, tzinfo=UTC)  # 2026-06-01 00:00 in Shanghai
SEED_END = datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
AS_OF = datetime(2026, 12, 20, 0, 0, tzinfo=UTC)
CHANNELS = ("phone", "branch", "app")
PRODUCTS = {
    "cards": ("credit_card", "debit_card"),
    "loans": ("mortgage", None),
    "deposits": (None,),
}
DEADLINES = {
    ClockName.FIRST_RESPONSE: timedelta(minutes=5),
    ClockName.DEPARTMENT_PLAN: timedelta(hours=24),
    ClockName.FINAL_REPLY: timedelta(days=9),
}
REMEDY_KINDS = ("compensation", "fee_refund", "discount")


@dataclass
class SeedClock:
    name: str
    status: str
    started_at: datetime
    deadline: datetime
    met_at: datetime | None = None
    breached_at: datetime | None = None


@dataclass
class SeedCase:
    case_id: str
    kind: str
    channel: str
    category: str
    product: str | None
    department: str | None
    customer_id: str
    opened_at: datetime
    clocks: list[SeedClock] = field(default_factory=list)
    events: list[tuple[str, datetime]] = field(default_factory=list)  # (type, at)
    closed_at: datetime | None = None
    owner: str = "li.na"  # the agent the assessment counts the case for


@dataclass
class SeedFeedback:
    feedback_id: str
    case_id: str
    kind: str
    channel: str
    category: str
    score: int
    comment: str | None
    at: datetime


@dataclass
class SeedRemedy:
    case_id: str
    remedy_id: str
    customer_id: str
    kind: str
    amount: Decimal
    recorded_at: datetime


@dataclass
class Seed:
    cases: list[SeedCase]
    feedback: list[SeedFeedback]
    remedies: list[SeedRemedy]


def _clock(rng: random.Random, name: ClockName, start: datetime) -> SeedClock:
    allowed = DEADLINES[name]
    deadline = start + allowed
    outcome = rng.choices(("on_time", "late", "open", "running"), weights=(6, 2, 1, 1))[0]
    if start + allowed * 3 > AS_OF:
        outcome = "running" if outcome == "open" else outcome
    if outcome == "on_time":
        met = start + allowed * rng.uniform(0.05, 0.95)
        return SeedClock(name.value, "met", start, deadline, met_at=met)
    if outcome == "late":
        met = deadline + allowed * rng.uniform(0.1, 2.0)
        return SeedClock(name.value, "breached", start, deadline, met, breached_at=deadline)
    if outcome == "open":
        return SeedClock(name.value, "breached", start, deadline, breached_at=deadline)
    return SeedClock(name.value, "running", start, deadline)


def build_seed(rng_seed: int = 9) -> Seed:
    rng = random.Random(rng_seed)
    cases: list[SeedCase] = []
    feedback: list[SeedFeedback] = []
    remedies: list[SeedRemedy] = []
    span = (SEED_END - SEED_START).total_seconds()
    openings = [SEED_START + timedelta(seconds=rng.uniform(0, span)) for _ in range(170)]
    # Month edges in the policy's zone: 1 Nov 01:00 and 30 Nov 23:59 are November's,
    # 1 Dec 00:00 (16:00 UTC the day before) is December's.
    openings += [
        datetime(2026, 10, 31, 17, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 15, 59, tzinfo=UTC),
        datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
    ]
    spike = [datetime(2026, 11, 3, 2, 0, tzinfo=UTC) + timedelta(hours=31 * i) for i in range(9)]
    for n, opened in enumerate(openings + spike):
        in_spike = n >= len(openings)
        kind = "complaint" if in_spike or rng.random() < 0.5 else "inquiry"
        category = "cards" if in_spike else rng.choice(tuple(PRODUCTS))
        product = "credit_card" if in_spike else rng.choice(PRODUCTS[category])
        department = rng.choice((None, category))
        case = SeedCase(
            case_id=f"case-{n:04d}",
            kind=kind,
            channel="phone" if in_spike else rng.choice(CHANNELS),
            category=category,
            product=product,
            department=department,
            customer_id=f"cust-{rng.randrange(25):02d}",
            opened_at=opened,
        )
        case.clocks.append(_clock(rng, ClockName.FIRST_RESPONSE, opened))
        if department is not None:
            case.clocks.append(_clock(rng, ClockName.DEPARTMENT_PLAN, opened + timedelta(hours=1)))
        if kind == "complaint":
            case.clocks.append(_clock(rng, ClockName.FINAL_REPLY, opened))
        if all(c.met_at is not None for c in case.clocks):
            closed = max(c.met_at for c in case.clocks if c.met_at) + timedelta(hours=1)
            case.events.append(("closed", closed))
            if rng.random() < 0.15:
                case.events.append(("reopened", closed + timedelta(days=2)))
                closed = closed + timedelta(days=3)
                case.events.append(("closed", closed))
            if closed < AS_OF:
                case.closed_at = closed
                survey = SeedClock("survey", "running", closed, closed + timedelta(days=7))
                if rng.random() < 0.65:
                    survey.status, survey.met_at = "met", closed + timedelta(hours=20)
                    comment = rng.choice((None, "太慢了", "helpful", "满意"))
                    feedback.append(
                        SeedFeedback(
                            feedback_id=f"{case.case_id}-F1",
                            case_id=case.case_id,
                            kind=kind,
                            channel=case.channel,
                            category=category,
                            score=rng.choice((1, 2, 3, 4, 4, 5, 5)),
                            comment=comment,
                            at=survey.met_at,
                        )
                    )
                elif closed + timedelta(days=7) < AS_OF:
                    survey.status = "expired"
                case.clocks.append(survey)
        if kind == "complaint" and rng.random() < 0.35:
            cents = rng.randrange(1_000, 90_000)
            remedies.append(
                SeedRemedy(
                    case_id=case.case_id,
                    remedy_id=f"{case.case_id}-R1",
                    customer_id=case.customer_id,
                    kind=rng.choice(REMEDY_KINDS),
                    amount=Decimal(cents) / 100,
                    recorded_at=opened + timedelta(days=2),
                )
            )
        cases.append(case)
    # One certain repeat complainant: a complaint closed on 25 October, another opened
    # on 10 November by the same customer.
    first = SeedCase(
        "case-r1",
        "complaint",
        "app",
        "loans",
        "mortgage",
        None,
        "cust-99",
        datetime(2026, 10, 20, 3, 0, tzinfo=UTC),
    )
    first.clocks.append(
        SeedClock(
            "first_response",
            "met",
            first.opened_at,
            first.opened_at + timedelta(minutes=5),
            met_at=first.opened_at + timedelta(minutes=2),
        )
    )
    first.events.append(("closed", datetime(2026, 10, 25, 3, 0, tzinfo=UTC)))
    first.closed_at = datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    again = SeedCase(
        "case-r2",
        "complaint",
        "app",
        "loans",
        "mortgage",
        None,
        "cust-99",
        datetime(2026, 11, 10, 3, 0, tzinfo=UTC),
    )
    again.clocks.append(
        SeedClock(
            "first_response", "running", again.opened_at, again.opened_at + timedelta(minutes=5)
        )
    )
    cases += [first, again]
    return Seed(cases, feedback, remedies)


def _snapshot(case: SeedCase) -> CaseSnapshot:
    clocks = {
        ClockName(c.name): ClockView(
            name=ClockName(c.name),
            status=ClockStatus(c.status),
            started_at=c.started_at,
            deadline=c.deadline,
            met_at=c.met_at,
            breached_at=c.breached_at,
        )
        for c in case.clocks
    }
    return CaseSnapshot(
        case_id=case.case_id,
        kind=CaseKind(case.kind),
        channel=case.channel,
        category=case.category,
        product=case.product,
        priority=Priority.NORMAL,
        customer_id=case.customer_id,
        stage=Stage.CLOSED if case.closed_at is not None else Stage.RECEIVED,
        owner=case.owner,
        department=case.department,
        opened_at=case.opened_at,
        opened_by="counter-terminal-07",
        closed_at=case.closed_at,
        breached=any(c.status == "breached" for c in case.clocks),
        escalation_level=0,
        next_deadline=None,
        policy_version="plan-2026.1",
        clocks=clocks,
    )


def write_seed(database_url: str, seed: Seed) -> None:
    """Project every case as the worker would, then the ledger and the feedback."""
    owners = {case.case_id: case.owner for case in seed.cases}
    with session_scope(database_url, write=True) as session:
        for case in seed.cases:
            events = [
                TimelineEvent(seq=1, type="received", at=case.opened_at, actor="system"),
                *(
                    TimelineEvent(seq=i + 2, type=type_, at=at, actor="li.na")
                    for i, (type_, at) in enumerate(case.events)
                ),
            ]
            upsert_case(session, snapshot=_snapshot(case), last_seq=events[-1].seq)
            add_case_events(session, case_id=case.case_id, events=events)
        for remedy in seed.remedies:
            insert_once(
                session,
                RemedyLedgerEntry(
                    case_id=remedy.case_id,
                    remedy_id=remedy.remedy_id,
                    customer_id=remedy.customer_id,
                    kind=remedy.kind,
                    description="goodwill",
                    amount=remedy.amount,
                    currency="CNY",
                    status="approved",
                    proposed_by="li.na",
                    decided_by="wang.fang",
                    decided_at=remedy.recorded_at,
                    recorded_at=remedy.recorded_at,
                ),
            )
        for item in seed.feedback:
            insert_once(
                session,
                FeedbackRecord(
                    feedback_id=item.feedback_id,
                    case_id=item.case_id,
                    kind=item.kind,
                    channel=item.channel,
                    category=item.category,
                    owner=owners[item.case_id],
                    score=item.score,
                    comment=item.comment,
                    at=item.at,
                ),
            )
