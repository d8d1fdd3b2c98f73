"""Inputs and results of the report workflows and their activities (DESIGN rule 6)."""

from __future__ import annotations

from pydantic import BaseModel

from workflows.periods import ReportKind


class ReportWorkflowInput(BaseModel):
    """``period`` (``yyyy-mm`` / ``yyyy-Qn``) for an on-demand run; a scheduled run
    leaves it out and reports on the period before its scheduled time, counted in
    ``timezone`` (the policy's)."""

    period: str | None = None
    timezone: str | None = None
    requested_by: str | None = None


class ReportRunInput(BaseModel):
    kind: ReportKind
    period: str
    # The workflow run: a retried activity stores its revision once.
    run_key: str
    requested_by: str | None = None


class ReportStored(BaseModel):
    kind: ReportKind
    period: str
    revision: int
