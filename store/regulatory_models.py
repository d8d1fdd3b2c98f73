"""The shape of a regulator's periodic return (R9), as the API serves it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ReturnBasis(BaseModel):
    """What the return was computed from, so it can be computed again: the period and
    its window, the profile and taxonomy versions, and the register's query time
    (``?as_of=`` repeats it: only rows stamped before it count)."""

    profile: str
    authority: str
    profile_version: str
    taxonomy: str | None
    taxonomy_version: str | None
    period: str
    period_kind: str
    timezone: str
    window_start: datetime
    window_end: datetime
    register_as_of: datetime


class BandCount(BaseModel):
    """Complaints closed in the period whose final reply fell in this band."""

    band: str
    closed: int


class Outcomes(BaseModel):
    upheld: int
    partly_upheld: int
    rejected: int
    not_recorded: int


class RedressLine(BaseModel):
    """Remedies recorded in the period, by kind (goodwill payments among them)."""

    kind: str
    count: int
    amount: str


class ClockLine(BaseModel):
    """How the complaints closed in the period stood against one clock: the bank's
    own (``final_reply``) and the regulator's (``regulator_reply``)."""

    clock: str
    met: int
    late: int


class BreakdownLine(BaseModel):
    """Complaints closed in the period with one code of one taxonomy axis."""

    taxonomy: str
    axis: str
    code: str
    label_en: str
    label_zh: str
    closed: int
    upheld: int


class RegulatoryReturn(BaseModel):
    basis: ReturnBasis
    nil_return: bool
    opened: int
    closed: int
    bands: list[BandCount]
    outcomes: Outcomes
    upheld_share: float | None
    currency: str
    redress: list[RedressLine]
    redress_total: str
    outstanding_at_start: int
    outstanding_at_end: int
    clocks: list[ClockLine]
    breakdown: list[BreakdownLine]
