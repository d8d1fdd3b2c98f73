"""A seeded register for the regulatory-return tests: complaints under the FCA and
NFRA profiles around 2026-H2, replied or still open, with band edges, outcomes,
classifications, both clocks and remedies (goodwill among them).

Written with the register's own store functions (the projection the worker writes),
and kept as plain data so the tests compute every figure independently.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from contracts.activities import CaseSnapshot
from contracts.case import (
    CaseKind,
    ClockStatus,
    ClockView,
    Priority,
    RegulatoryBand,
    RegulatoryView,
    Stage,
    TimelineEvent,
)
from contracts.policy import ClockName, ComplaintOutcome
from store.cases import add_case_events, upsert_case
from store.db import session_scope
from store.idempotent import insert_once
from store.tables import RemedyLedgerEntry

# 2026-H2 in London: 1 Jul 00:00 BST to 1 Jan 2027 00:00 GMT.
H2_START = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
H2_END = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
AS_OF = datetime(2027, 1, 5, 0, 0, tzinfo=UTC)
FCA_CODES: dict[str, tuple[str, ...]] = {
    "product_group": ("current_accounts", "credit_cards", "payment_services", "mortgages"),
    "cause": ("advising_selling", "terms_charges", "admin_service", "other"),
}
NFRA_CODES: dict[str, tuple[str, ...]] = {
    "channel": ("A101", "A10303"),
    "business_type": ("B3", "B4"),
    "reason": ("C01",),
}
OUTCOMES = tuple(ComplaintOutcome)
REDRESS_KINDS = ("compensation", "fee_refund", "goodwill")


@dataclass
class SeedComplaint:
    case_id: str
    profile: str
    opened_at: datetime
    bands: list[tuple[str, datetime]]
    bank_deadline: datetime
    regulator_deadline: datetime
    replied_at: datetime | None = None
    outcome: ComplaintOutcome | None = None
    classification: dict[str, str] = field(default_factory=dict)
    taxonomy: str = ""


@dataclass
class SeedRedress:
    case_id: str
    remedy_id: str
    kind: str
    amount: Decimal
    recorded_at: datetime


@dataclass
class RegulatorySeed:
    complaints: list[SeedComplaint]
    redress: list[SeedRedress]


def _complaint(
    rng: random.Random, n: int, profile: str, opened: datetime, replied_after: timedelta | None
) -> SeedComplaint:
    if profile == "uk-fca":
        bands = [
            ("within_3_business_days", opened + timedelta(days=4)),
            ("within_8_weeks", opened + timedelta(weeks=8)),
        ]
        codes, taxonomy = FCA_CODES, "fca-disp-2026"
    else:
        bands = [
            ("within_15_days", opened + timedelta(days=15)),
            ("within_30_days", opened + timedelta(days=30)),
            ("within_60_days", opened + timedelta(days=60)),
        ]
        codes, taxonomy = NFRA_CODES, "jrt-0169-2018"
    complaint = SeedComplaint(
        case_id=f"REG-{n:04d}",
        profile=profile,
        opened_at=opened,
        bands=bands,
        bank_deadline=opened + timedelta(days=9),
        regulator_deadline=bands[-1][1] if profile == "uk-fca" else bands[0][1],
        taxonomy=taxonomy,
    )
    if replied_after is not None:
        complaint.replied_at = opened + replied_after
        complaint.outcome = rng.choice(OUTCOMES)
        complaint.classification = {axis: rng.choice(values) for axis, values in codes.items()}
    return complaint


def build_regulatory_seed(rng_seed: int = 17) -> RegulatorySeed:
    rng = random.Random(rng_seed)
    complaints: list[SeedComplaint] = []
    start, span = datetime(2026, 4, 1, tzinfo=UTC), timedelta(days=275)
    for n in range(90):
        profile = "uk-fca" if n % 4 else "cn-nfra"
        opened = start + span * rng.random()
        replied = (
            None
            if rng.random() < 0.2
            else rng.choice((timedelta(hours=30), timedelta(days=20), timedelta(weeks=11)))
            * rng.uniform(0.5, 1.5)
        )
        complaints.append(_complaint(rng, n, profile, opened, replied))
    # Edges: replied exactly at the 3-day band's edge and at the period's first instant;
    # opened at the period's first instant; replied just before the period's end.
    edge = _complaint(rng, 900, "uk-fca", datetime(2026, 8, 3, 9, tzinfo=UTC), timedelta(days=4))
    at_start = _complaint(rng, 901, "uk-fca", H2_START - timedelta(days=10), timedelta(days=10))
    opened_at_start = _complaint(rng, 902, "uk-fca", H2_START, None)
    last = _complaint(
        rng,
        903,
        "uk-fca",
        datetime(2026, 12, 1, tzinfo=UTC),
        H2_END - datetime(2026, 12, 1, tzinfo=UTC) - timedelta(minutes=1),
    )
    complaints += [edge, at_start, opened_at_start, last]
    redress = [
        SeedRedress(
            case_id=c.case_id,
            remedy_id=f"{c.case_id}-R1",
            kind=rng.choice(REDRESS_KINDS),
            amount=Decimal(rng.randrange(500, 60_000)) / 100,
            recorded_at=c.replied_at,
        )
        for c in complaints
        if c.replied_at is not None and rng.random() < 0.45
    ]
    return RegulatorySeed(complaints, redress)


def _clock(
    name: ClockName, opened: datetime, deadline: datetime, replied: datetime | None
) -> ClockView:
    if replied is None:
        status, breached = ClockStatus.RUNNING, None
    elif replied <= deadline:
        status, breached = ClockStatus.MET, None
    else:
        status, breached = ClockStatus.BREACHED, deadline
    return ClockView(
        name=name,
        status=status,
        started_at=opened,
        deadline=deadline,
        met_at=replied,
        breached_at=breached,
    )


def snapshot_of(c: SeedComplaint) -> CaseSnapshot:
    clocks = {
        ClockName.FINAL_REPLY: _clock(
            ClockName.FINAL_REPLY, c.opened_at, c.bank_deadline, c.replied_at
        ),
        ClockName.REGULATOR_REPLY: _clock(
            ClockName.REGULATOR_REPLY, c.opened_at, c.regulator_deadline, c.replied_at
        ),
    }
    return CaseSnapshot(
        case_id=c.case_id,
        kind=CaseKind.COMPLAINT,
        channel="phone",
        category="cards",
        product="credit_card",
        priority=Priority.NORMAL,
        customer_id="cust-1",
        stage=Stage.RESOLVED if c.replied_at else Stage.INVESTIGATING,
        owner="li.na",
        department=None,
        opened_at=c.opened_at,
        opened_by="counter-terminal-07",
        closed_at=None,
        breached=False,
        escalation_level=0,
        next_deadline=None,
        policy_version=f"{c.profile}-2026.1",
        clocks=clocks,
        regulatory=RegulatoryView(
            profile=c.profile,
            regime="general",
            bands=[RegulatoryBand(name=n, deadline=d) for n, d in c.bands],
            taxonomy=c.taxonomy,
            taxonomy_version="2026" if c.profile == "uk-fca" else "2018",
            classification=c.classification,
            outcome=c.outcome,
            replied_at=c.replied_at,
        ),
    )


def write_regulatory_seed(database_url: str, seed: RegulatorySeed) -> None:
    with session_scope(database_url, write=True) as session:
        for c in seed.complaints:
            events = [TimelineEvent(seq=1, type="opened", at=c.opened_at, actor="system")]
            if c.replied_at is not None:
                events.append(
                    TimelineEvent(seq=2, type="final_reply_sent", at=c.replied_at, actor="li.na")
                )
            upsert_case(session, snapshot=snapshot_of(c), last_seq=events[-1].seq)
            add_case_events(session, case_id=c.case_id, events=events)
        for r in seed.redress:
            insert_once(
                session,
                RemedyLedgerEntry(
                    case_id=r.case_id,
                    remedy_id=r.remedy_id,
                    customer_id="cust-1",
                    kind=r.kind,
                    description="redress",
                    amount=r.amount,
                    currency="GBP",
                    status="approved",
                    proposed_by="li.na",
                    decided_by="wang.fang",
                    decided_at=r.recorded_at,
                    recorded_at=r.recorded_at,
                ),
            )
