"""The regulators' periodic returns (R9), for supervisors.

``GET /v1/reports/regulatory/{profile}/{period}`` computes the return of a regulator
profile (``cn-nfra``, ``uk-fca``, ``eu-psd2``, ``us-cfpb``: the configured policy's
own, or a built-in preset) from the register: JSON by default, CSV with ``Accept:
text/csv`` (UTF-8 with a BOM, for Excel) and XLSX with ``Accept:
application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`` (or
``?format=csv|xlsx``). The return names its basis (period, profile and taxonomy
versions, the register's query time); ``?as_of=`` computes it again as of that time.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from openpyxl import Workbook

from api.contract import errors
from api.deps import SessionDep, SettingsDep, Supervisor
from api.routes.common import QueryDateTime
from contracts.periods import PeriodError
from contracts.returns import parse_return_period
from policy.loader import (
    PolicyDocument,
    PolicyError,
    load_policy_document,
    load_policy_preset,
    policy_presets,
)
from policy.taxonomies import TaxonomyError, load_taxonomy
from settings.app import Settings
from store.regulatory import regulatory_return
from store.regulatory_models import RegulatoryReturn

router = APIRouter(tags=["reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ProfilePath = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_\-]{0,39}$", description="a regulator profile")
]
ReturnPeriodPath = Annotated[
    str,
    Path(
        description="yyyy-mm, yyyy-Qn or yyyy-Hn, as the profile's return covers",
        pattern=r"^(19[0-9]{2}|2[0-9]{3})-(0[1-9]|1[0-2]|Q[1-4]|H[12])$",
    ),
]


def _document(settings: Settings, profile: str) -> PolicyDocument:
    """The configured policy when it is this profile's, else the built-in preset."""
    configured = load_policy_document(settings.policy_file)
    if configured.regulator is not None and configured.regulator.profile == profile:
        return configured
    if profile in policy_presets():
        preset = load_policy_preset(profile)
        if preset.regulator is not None and preset.regulator.profile == profile:
            return preset
    known = sorted(
        {*policy_presets(), *([configured.regulator.profile] if configured.regulator else [])}
    )
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        f"profile: no regulator profile {profile!r} (known: {', '.join(known)})",
    )


def _labels(doc: PolicyDocument, settings: Settings) -> dict[tuple[str, str, str], tuple[str, str]]:
    rules = doc.regulator
    if rules is None or rules.taxonomy is None:
        return {}
    search = [settings.policy_file.parent / "taxonomies"] if settings.policy_file else []
    try:
        taxonomy = load_taxonomy(rules.taxonomy.taxonomy, search)
    except TaxonomyError:
        return {}
    return {
        (taxonomy.taxonomy, axis.name, code.code): (code.label_en, code.label_zh)
        for axis in taxonomy.axes
        for code in axis.codes
    }


def _format(request: Request, asked: str | None) -> str:
    if asked is not None:
        return asked
    accept = request.headers.get("accept", "")
    if XLSX in accept:
        return "xlsx"
    if "text/csv" in accept:
        return "csv"
    return "json"


@router.get(
    "/v1/reports/regulatory/{profile}/{period}",
    response_model=None,
    responses=errors(401, 403, 404, 422, 503),
    name="read_regulatory_return",
)
def get_regulatory_return(
    request: Request,
    profile: ProfilePath,
    period: ReturnPeriodPath,
    session: SessionDep,
    settings: SettingsDep,
    _user: Supervisor,
    as_of: Annotated[
        QueryDateTime | None, Query(description="the register query time to compute as of")
    ] = None,
    format: Annotated[Literal["json", "csv", "xlsx"] | None, Query()] = None,
) -> RegulatoryReturn | Response:
    """A regulator's periodic return: complaints opened, closed by time band, upheld,
    redress by kind, outstanding at the start and end, by taxonomy code; a nil return
    when there is nothing to report."""
    try:
        doc = _document(settings, profile)
    except PolicyError as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from err
    rules = doc.regulator
    assert rules is not None
    try:
        parsed = parse_return_period(period, rules.periods)
    except PeriodError as err:
        raise RequestValidationError(
            [{"loc": ("path", "period"), "msg": str(err), "type": "value_error", "input": period}]
        ) from err
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "as_of"),
                    "msg": "as_of needs a UTC offset, e.g. 2027-01-05T00:00:00Z",
                    "type": "value_error",
                    "input": str(as_of),
                }
            ]
        )
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    result = regulatory_return(
        session,
        rules=rules,
        profile_version=doc.version,
        period=parsed,
        timezone=doc.rules.timezone,
        currency=doc.rules.currency,
        as_of=moment,
        labels=_labels(doc, settings),
    )
    name = f"{profile}-{parsed.label}"
    match _format(request, format):
        case "csv":
            return Response(
                "\ufeff" + return_csv(result),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        case "xlsx":
            return Response(
                return_xlsx(result),
                media_type=XLSX,
                headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
            )
        case _:
            return result


def return_rows(result: RegulatoryReturn) -> list[tuple[str, str, str]]:
    """The return as (section, item, value) rows: what the CSV and the XLSX hold."""
    basis = result.basis
    rows: list[tuple[str, str, str]] = [
        ("basis", key, "" if value is None else str(value))
        for key, value in basis.model_dump(mode="json").items()
    ]
    rows += [
        ("return", "nil_return", str(result.nil_return).lower()),
        ("return", "opened", str(result.opened)),
        ("return", "closed", str(result.closed)),
        ("return", "outstanding_at_start", str(result.outstanding_at_start)),
        ("return", "outstanding_at_end", str(result.outstanding_at_end)),
        (
            "return",
            "upheld_share",
            "" if result.upheld_share is None else f"{result.upheld_share:.4f}",
        ),
    ]
    rows += [("band", band.band, str(band.closed)) for band in result.bands]
    rows += [("outcome", key, str(value)) for key, value in result.outcomes.model_dump().items()]
    rows += [
        (f"redress ({result.currency})", line.kind, f"{line.count} / {line.amount}")
        for line in result.redress
    ]
    rows.append((f"redress ({result.currency})", "total", result.redress_total))
    rows += [
        (f"clock {line.clock}", key, str(value))
        for line in result.clocks
        for key, value in (("met", line.met), ("late", line.late))
    ]
    rows += [
        (
            f"breakdown {line.taxonomy} {line.axis}",
            f"{line.code} {line.label_en} / {line.label_zh}",
            f"closed {line.closed}, upheld {line.upheld}",
        )
        for line in result.breakdown
    ]
    return rows


def return_csv(result: RegulatoryReturn) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("section", "item", "value"))
    writer.writerows(return_rows(result))
    return buffer.getvalue()


def return_xlsx(result: RegulatoryReturn) -> bytes:
    """One sheet of the whole return and one of the breakdown, as numbers where they
    are numbers, so the bank's reporting team can total them."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Return"
    sheet.append(["section", "item", "value"])
    for section, item, value in return_rows(result):
        if section.startswith("breakdown"):
            continue
        sheet.append([section, item, int(value) if value.isdigit() else value])
    breakdown = book.create_sheet("Breakdown")
    breakdown.append(["taxonomy", "axis", "code", "label_en", "label_zh", "closed", "upheld"])
    for line in result.breakdown:
        breakdown.append(
            [
                line.taxonomy,
                line.axis,
                line.code,
                line.label_en,
                line.label_zh,
                line.closed,
                line.upheld,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


__all__ = ["return_csv", "return_rows", "return_xlsx", "router"]
