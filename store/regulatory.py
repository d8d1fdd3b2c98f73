"""The regulators' periodic returns (R9) as SQL aggregates over the register.

A return counts the complaints recorded under one regulator profile: opened in the
period, closed in it (the first final reply) by time band, their outcomes, the redress
recorded, those outstanding at the period's start and end, each clock's met and late
counts, and the closed complaints by taxonomy code. Every figure is a ``GROUP BY`` or
a ``SUM(CASE ...)``; only aggregates come back to Python. Only rows stamped before the
register query time (``as_of``) count, so a return computed again with the same basis
gives the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, Numeric, and_, case, cast, func, or_, select
from sqlmodel import Session

from contracts.policy import ClockName, ComplaintOutcome, RegulatorRules
from contracts.returns import ReturnPeriod
from store.idempotent import table_of
from store.regulatory_models import (
    BandCount,
    BreakdownLine,
    ClockLine,
    Outcomes,
    RedressLine,
    RegulatoryReturn,
    ReturnBasis,
)
from store.regulatory_tables import (
    CaseRegulatoryBandRow,
    CaseRegulatoryRow,
    ComplaintClassificationRow,
)
from store.report_tables import CaseClockRow
from store.reports import Window, local_midnight
from store.tables import CaseRow, RemedyLedgerEntry

CASES = table_of(CaseRow)
REGULATORY = table_of(CaseRegulatoryRow)
BANDS = table_of(CaseRegulatoryBandRow)
CLASSIFICATIONS = table_of(ComplaintClassificationRow)
CLOCKS = table_of(CaseClockRow)
REMEDIES = table_of(RemedyLedgerEntry)

LATER = "later"
UPHELD = (ComplaintOutcome.UPHELD.value, ComplaintOutcome.PARTLY_UPHELD.value)

__all__ = ["LATER", "regulatory_return", "return_window"]


def return_window(period: ReturnPeriod, timezone: str) -> Window:
    """The period's local dates as UTC instants ``[start, end)``."""
    return Window(local_midnight(period.start, timezone), local_midnight(period.end, timezone))


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _closed_in(window: Window, as_of: datetime) -> ColumnElement[bool]:
    replied = REGULATORY.c.replied_at
    return and_(replied >= window.start, replied < window.end, replied < as_of)


def _outstanding_at(moment: datetime) -> ColumnElement[bool]:
    """Opened before ``moment`` and not yet given a final reply at it."""
    replied = REGULATORY.c.replied_at
    return and_(CASES.c.opened_at < moment, or_(replied.is_(None), replied >= moment))


def _headline(session: Session, profile: str, window: Window, as_of: datetime) -> dict[str, int]:
    end = min(window.end, as_of)
    opened = and_(CASES.c.opened_at >= window.start, CASES.c.opened_at < end)
    closed = _closed_in(window, as_of)
    outcome = REGULATORY.c.outcome
    row = session.execute(
        select(
            _count_if(opened),
            _count_if(closed),
            _count_if(_outstanding_at(window.start)),
            _count_if(_outstanding_at(end)),
            _count_if(and_(closed, outcome == ComplaintOutcome.UPHELD.value)),
            _count_if(and_(closed, outcome == ComplaintOutcome.PARTLY_UPHELD.value)),
            _count_if(and_(closed, outcome == ComplaintOutcome.REJECTED.value)),
        )
        .select_from(REGULATORY.join(CASES, CASES.c.case_id == REGULATORY.c.case_id))
        .where(REGULATORY.c.profile == profile)
    ).one()
    names = ("opened", "closed", "start", "end", "upheld", "partly", "rejected")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def _bands(
    session: Session, rules: RegulatorRules, window: Window, as_of: datetime
) -> list[BandCount]:
    """Each closed complaint in the first band whose edge its reply did not pass."""
    first_band = (
        select(REGULATORY.c.case_id, func.min(BANDS.c.ordinal).label("first_band"))
        .select_from(
            REGULATORY.outerjoin(
                BANDS,
                and_(
                    BANDS.c.case_id == REGULATORY.c.case_id,
                    BANDS.c.deadline >= REGULATORY.c.replied_at,
                ),
            )
        )
        .where(REGULATORY.c.profile == rules.profile, _closed_in(window, as_of))
        .group_by(REGULATORY.c.case_id)
        .subquery()
    )
    counts = dict(
        session.execute(
            select(first_band.c.first_band, func.count()).group_by(first_band.c.first_band)
        ).all()
    )
    lines = [
        BandCount(band=band.name, closed=int(counts.get(i, 0)))
        for i, band in enumerate(rules.bands)
    ]
    lines.append(BandCount(band=LATER, closed=int(counts.get(None, 0))))
    return lines


def _redress(session: Session, profile: str, window: Window, as_of: datetime) -> list[RedressLine]:
    # Whole cents as integers: exact on both databases (SQLite stores decimal text).
    cents = cast(func.round(cast(REMEDIES.c.amount, Numeric(14, 2)) * 100), Integer)
    recorded = REMEDIES.c.recorded_at
    rows = session.execute(
        select(REMEDIES.c.kind, func.count(), func.sum(cents))
        .select_from(REMEDIES.join(REGULATORY, REGULATORY.c.case_id == REMEDIES.c.case_id))
        .where(
            REGULATORY.c.profile == profile,
            recorded >= window.start,
            recorded < window.end,
            recorded < as_of,
        )
        .group_by(REMEDIES.c.kind)
        .order_by(REMEDIES.c.kind)
    ).all()
    return [
        RedressLine(kind=kind, count=int(n), amount=_money(int(total or 0)))
        for kind, n, total in rows
    ]


def _money(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def _clocks(session: Session, profile: str, window: Window, as_of: datetime) -> list[ClockLine]:
    """The bank's own final-reply clock and the regulator's, for the complaints closed
    in the period: met in time, or late."""
    names = (ClockName.FINAL_REPLY.value, ClockName.REGULATOR_REPLY.value)
    rows = session.execute(
        select(
            CLOCKS.c.clock,
            _count_if(CLOCKS.c.status == "met"),
            _count_if(CLOCKS.c.status == "breached"),
        )
        .select_from(REGULATORY.join(CLOCKS, CLOCKS.c.case_id == REGULATORY.c.case_id))
        .where(
            REGULATORY.c.profile == profile,
            _closed_in(window, as_of),
            CLOCKS.c.clock.in_(names),
        )
        .group_by(CLOCKS.c.clock)
    ).all()
    found = {clock: (int(met), int(late)) for clock, met, late in rows}
    return [
        ClockLine(clock=n, met=found.get(n, (0, 0))[0], late=found.get(n, (0, 0))[1]) for n in names
    ]


def _breakdown(
    session: Session,
    profile: str,
    window: Window,
    as_of: datetime,
    labels: Mapping[tuple[str, str, str], tuple[str, str]],
) -> list[BreakdownLine]:
    rows = session.execute(
        select(
            REGULATORY.c.taxonomy,
            CLASSIFICATIONS.c.axis,
            CLASSIFICATIONS.c.code,
            func.count(),
            _count_if(REGULATORY.c.outcome.in_(UPHELD)),
        )
        .select_from(
            CLASSIFICATIONS.join(REGULATORY, REGULATORY.c.case_id == CLASSIFICATIONS.c.case_id)
        )
        .where(REGULATORY.c.profile == profile, _closed_in(window, as_of))
        .group_by(REGULATORY.c.taxonomy, CLASSIFICATIONS.c.axis, CLASSIFICATIONS.c.code)
        .order_by(REGULATORY.c.taxonomy, CLASSIFICATIONS.c.axis, CLASSIFICATIONS.c.code)
    ).all()
    lines = []
    for taxonomy, axis, code, closed, upheld in rows:
        label_en, label_zh = labels.get((taxonomy or "", axis, code), (code, code))
        lines.append(
            BreakdownLine(
                taxonomy=taxonomy or "",
                axis=axis,
                code=code,
                label_en=label_en,
                label_zh=label_zh,
                closed=int(closed),
                upheld=int(upheld),
            )
        )
    return lines


def regulatory_return(
    session: Session,
    *,
    rules: RegulatorRules,
    profile_version: str,
    period: ReturnPeriod,
    timezone: str,
    currency: str,
    as_of: datetime,
    labels: Mapping[tuple[str, str, str], tuple[str, str]],
) -> RegulatoryReturn:
    """The return of ``rules.profile`` for ``period``, as the register stood at ``as_of``."""
    window = return_window(period, timezone)
    head = _headline(session, rules.profile, window, as_of)
    redress = _redress(session, rules.profile, window, as_of)
    total = sum(int(Decimal(line.amount) * 100) for line in redress)
    not_recorded = head["closed"] - head["upheld"] - head["partly"] - head["rejected"]
    taxonomy = rules.taxonomy
    basis = ReturnBasis(
        profile=rules.profile,
        authority=rules.authority,
        profile_version=profile_version,
        taxonomy=taxonomy.taxonomy if taxonomy else None,
        taxonomy_version=taxonomy.version if taxonomy else None,
        period=period.label,
        period_kind=period.kind.value,
        timezone=timezone,
        window_start=window.start,
        window_end=window.end,
        register_as_of=as_of,
    )
    nil = head["opened"] == 0 and head["closed"] == 0 and head["start"] == 0 and not redress
    return RegulatoryReturn(
        basis=basis,
        nil_return=nil,
        opened=head["opened"],
        closed=head["closed"],
        bands=_bands(session, rules, window, as_of),
        outcomes=Outcomes(
            upheld=head["upheld"],
            partly_upheld=head["partly"],
            rejected=head["rejected"],
            not_recorded=not_recorded,
        ),
        upheld_share=(
            (head["upheld"] + head["partly"]) / head["closed"] if head["closed"] else None
        ),
        currency=currency,
        redress=redress,
        redress_total=_money(total),
        outstanding_at_start=head["start"],
        outstanding_at_end=head["end"],
        clocks=_clocks(session, rules.profile, window, as_of),
        breakdown=_breakdown(session, rules.profile, window, as_of, labels),
    )
