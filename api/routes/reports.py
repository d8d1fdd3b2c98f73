"""Reports (R6.2, R6.4) and the feedback record table (R7.3), for supervisors.

``GET`` answers the newest stored revision (``?revision=`` an older one) as JSON, or
as a self-contained HTML page with ``Accept: text/html`` (``?lang=zh|en``). ``POST
.../run`` starts the report workflow for the period: one workflow ID per period, so
two requests at once share one run; a run after it finished adds a revision.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, StringConstraints
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.contract import errors
from api.deps import ClientDep, SessionDep, SettingsDep, Supervisor
from api.errors import EngineUnavailableError
from api.report_html import monthly_html, quarterly_html
from contracts.periods import (
    MONTH_PATTERN,
    QUARTER_PATTERN,
    Period,
    PeriodError,
    ReportKind,
    parse_period,
)
from contracts.reports import ReportWorkflowInput
from policy.reports import policy_timezone
from store.db import session_scope
from store.feedback_table import FeedbackFilter, FeedbackLine, feedback_table, iter_feedback
from store.report_models import FindingNotePublic
from store.reports import add_finding_note, finding_notes, latest_revision, window_of
from workflows.reports import MonthlyReportWorkflow, QuarterlyReportWorkflow, report_workflow_id

router = APIRouter(tags=["reports"])
# The feedback register is its own resource, beside the reports built from it.
feedback_router = APIRouter(tags=["feedback"])

RUN = errors(401, 403, 422, 503)
READ = errors(401, 403, 404, 422)

MonthPath = Annotated[str, Path(description="yyyy-mm", pattern=MONTH_PATTERN.pattern, max_length=7)]
QuarterPath = Annotated[
    str, Path(description="yyyy-Qn", pattern=QUARTER_PATTERN.pattern, max_length=7)
]
Lang = Annotated[Literal["zh", "en"], Query(description="labels of the HTML page")]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ReportRun(BaseModel):
    workflow_id: str
    run_id: str | None
    kind: ReportKind
    period: str


class FindingNoteBody(BaseModel):
    causes: NoteText
    proposals: NoteText


class FeedbackPublic(BaseModel):
    feedback_id: str
    at: datetime
    case_id: str
    kind: str
    channel: str
    category: str
    product: str | None
    department: str | None
    owner: str | None
    score: int
    comment: str | None
    final_reply: str | None
    remedies: int
    remedies_amount: str
    stage: str | None
    reopened: bool
    handled: bool


class FeedbackList(BaseModel):
    items: list[FeedbackPublic]
    total: int
    limit: int
    offset: int


def _period(kind: ReportKind, label: str, field: str = "period") -> Period:
    try:
        return parse_period(kind, label)
    except PeriodError as err:
        raise RequestValidationError(
            [{"loc": ("path", field), "msg": str(err), "type": "value_error", "input": label}]
        ) from err


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def _not_found(kind: ReportKind, period: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"no {kind.value} report for {period} yet: run it with "
        f"POST /v1/reports/{kind.value}/{period}/run",
    )


async def _run(
    kind: ReportKind, label: str, client: ClientDep, settings: SettingsDep, user: Supervisor
) -> ReportRun:
    period = _period(kind, label)
    workflow = MonthlyReportWorkflow if kind is ReportKind.MONTHLY else QuarterlyReportWorkflow
    workflow_id = report_workflow_id(kind, period.label)
    try:
        handle = await client.start_workflow(
            workflow.run,
            ReportWorkflowInput(period=period.label, requested_by=user.user),
            id=workflow_id,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
    except RPCError as err:
        raise EngineUnavailableError(f"could not start the report run: {err.message}") from err
    return ReportRun(
        workflow_id=handle.id, run_id=handle.result_run_id, kind=kind, period=period.label
    )


@router.post(
    "/v1/reports/monthly/{period}/run",
    status_code=status.HTTP_202_ACCEPTED,
    responses=RUN,
    name="run_monthly_report",
)
async def run_monthly(
    period: MonthPath, client: ClientDep, settings: SettingsDep, user: Supervisor
) -> ReportRun:
    """Start the monthly analysis of ``yyyy-mm``; answers the run's workflow ID."""
    return await _run(ReportKind.MONTHLY, period, client, settings, user)


@router.post(
    "/v1/reports/quarterly/{period}/run",
    status_code=status.HTTP_202_ACCEPTED,
    responses=RUN,
    name="run_quarterly_report",
)
async def run_quarterly(
    period: QuarterPath, client: ClientDep, settings: SettingsDep, user: Supervisor
) -> ReportRun:
    """Start the quarterly evaluation of ``yyyy-Qn``; answers the run's workflow ID."""
    return await _run(ReportKind.QUARTERLY, period, client, settings, user)


def _stored(
    session: SessionDep, kind: ReportKind, label: str, revision: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    period = _period(kind, label)
    stored = latest_revision(session, kind=kind, period=period.label, revision=revision)
    if stored is None:
        if revision is not None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"the {kind.value} report for {period.label} has no revision {revision}",
            )
        raise _not_found(kind, period.label)
    meta = {
        "revision": stored.revision,
        "revisions": stored.revisions,
        "created_at": stored.created_at.isoformat(timespec="seconds"),
    }
    return stored.data, meta


RevisionQuery = Annotated[int | None, Query(ge=1, description="an older revision")]


@router.get(
    "/v1/reports/monthly/{period}",
    response_model=None,
    responses=READ,
    name="read_monthly_report",
)
def get_monthly(
    request: Request,
    period: MonthPath,
    session: SessionDep,
    _user: Supervisor,
    revision: RevisionQuery = None,
    lang: Lang = "zh",
) -> dict[str, Any] | HTMLResponse:
    """The monthly analysis of ``yyyy-mm`` (JSON, or HTML with ``Accept: text/html``)."""
    data, meta = _stored(session, ReportKind.MONTHLY, period, revision)
    if _wants_html(request):
        return HTMLResponse(monthly_html(data, meta, lang))
    return {**meta, "report": data}


@router.get(
    "/v1/reports/quarterly/{period}",
    response_model=None,
    responses=READ,
    name="read_quarterly_report",
)
def get_quarterly(
    request: Request,
    period: QuarterPath,
    session: SessionDep,
    _user: Supervisor,
    revision: RevisionQuery = None,
    lang: Lang = "zh",
) -> dict[str, Any] | HTMLResponse:
    """The quarterly evaluation of ``yyyy-Qn`` with the supervisors' notes."""
    data, meta = _stored(session, ReportKind.QUARTERLY, period, revision)
    notes = [n.model_dump(mode="json") for n in finding_notes(session, period=data["period"])]
    if _wants_html(request):
        return HTMLResponse(quarterly_html(data, meta, notes, lang))
    return {**meta, "report": data, "notes": notes}


@router.post(
    "/v1/reports/quarterly/{period}/findings/{finding_id}/notes",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 404, 422),
    name="add_finding_note",
)
def add_note(
    period: QuarterPath,
    finding_id: Annotated[str, Path(max_length=100)],
    body: FindingNoteBody,
    settings: SettingsDep,
    user: Supervisor,
) -> FindingNotePublic:
    """A supervisor's written causes and proposals on a finding (R6.4)."""
    label = _period(ReportKind.QUARTERLY, period).label
    with session_scope(settings.database_url, write=True) as session:
        stored = latest_revision(session, kind=ReportKind.QUARTERLY, period=label)
        if stored is None:
            raise _not_found(ReportKind.QUARTERLY, label)
        if finding_id not in {f["finding_id"] for f in stored.data["findings"]}:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"the quarterly report for {label} has no finding {finding_id}",
            )
        return add_finding_note(
            session,
            note_id=str(uuid.uuid4()),
            period=label,
            finding=finding_id,
            author=user.user,
            causes=body.causes,
            proposals=body.proposals,
        )


# --- the feedback record table ---------------------------------------------------------

CSV_COLUMNS = [
    "feedback_id",
    "at",
    "case_id",
    "kind",
    "channel",
    "category",
    "product",
    "department",
    "owner",
    "score",
    "comment",
    "final_reply",
    "remedies",
    "remedies_amount",
    "stage",
    "reopened",
    "handled",
]


def _public(line: FeedbackLine) -> FeedbackPublic:
    return FeedbackPublic(
        **{
            **line.__dict__,
            "remedies_amount": str(line.remedies_amount),
        }
    )


@feedback_router.get(
    "/v1/feedback",
    response_model=None,
    responses=errors(401, 403, 422),
    name="list_feedback",
)
def list_feedback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Supervisor,
    period: Annotated[
        str | None, Query(description="yyyy-mm", pattern=MONTH_PATTERN.pattern)
    ] = None,
    category: str | None = None,
    channel: str | None = None,
    score: Annotated[int | None, Query(ge=1, le=5)] = None,
    handled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FeedbackList | StreamingResponse:
    """Each feedback with its case, what was done and the outcome; ``Accept:
    text/csv`` exports every match (UTF-8 with a BOM, for Excel)."""
    start = end = None
    if period is not None:
        try:
            month = parse_period(ReportKind.MONTHLY, period)
        except PeriodError as err:
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", "period"),
                        "msg": str(err),
                        "type": "value_error",
                        "input": period,
                    }
                ]
            ) from err
        window = window_of(month, policy_timezone(settings.policy_file))
        start, end = window.start, window.end
    filters = FeedbackFilter(start, end, category, channel, score, handled)
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(
            _csv(settings.database_url, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="feedback.csv"'},
        )
    lines, total = feedback_table(session, filters, limit=limit, offset=offset)
    return FeedbackList(items=[_public(x) for x in lines], total=total, limit=limit, offset=offset)


def _csv(database_url: str, filters: FeedbackFilter) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff".encode()
    writer.writerow(CSV_COLUMNS)
    with session_scope(database_url) as session:
        for n, line in enumerate(iter_feedback(session, filters)):
            row = _public(line).model_dump(mode="json")
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
            if n % 500 == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
