"""The regulators' periodic returns on the real stack: the API on a socket over a
seeded register (SQLite and PostgreSQL). Every figure is computed again here in
plain Python from the seed (``tests/regulatory_seed.py``), not by the code under test:
opened, closed by time band, outcomes and the upheld share, redress by kind
(goodwill among them), outstanding at the start and end, both clocks, the taxonomy
breakdown; a nil return; the same basis computing the same figures; CSV and XLSX.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from contracts.policy import ComplaintOutcome
from tests.api_fixtures import ApiStack
from tests.regulatory_seed import (
    AS_OF,
    H2_END,
    H2_START,
    RegulatorySeed,
    SeedComplaint,
    build_regulatory_seed,
    write_regulatory_seed,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PATH = "/v1/reports/regulatory/uk-fca/2026-H2"
AS_OF_QUERY = "as_of=2027-01-05T00:00:00Z"  # AS_OF, as a client writes it in a URL


@pytest.fixture(scope="module")
async def seeded(api: ApiStack) -> tuple[ApiStack, RegulatorySeed]:
    seed = build_regulatory_seed()
    write_regulatory_seed(api.settings.database_url, seed)
    return api, seed


def expected(
    seed: RegulatorySeed, profile: str, start: datetime, end: datetime, as_of: datetime
) -> dict[str, Any]:
    """The return worked out complaint by complaint."""
    mine = [c for c in seed.complaints if c.profile == profile]
    cut = min(end, as_of)

    def replied_by(c: SeedComplaint, moment: datetime) -> bool:
        return c.replied_at is not None and c.replied_at < moment

    closed = [
        c
        for c in mine
        if c.replied_at is not None and start <= c.replied_at < end and c.replied_at < as_of
    ]
    bands: Counter[str] = Counter()
    for c in closed:
        assert c.replied_at is not None
        band = next((name for name, edge in c.bands if edge >= c.replied_at), "later")
        bands[band] += 1
    outcomes = Counter(c.outcome for c in closed)
    ids = {c.case_id for c in mine}
    redress: dict[str, tuple[int, Decimal]] = {}
    for r in seed.redress:
        if r.case_id in ids and start <= r.recorded_at < end and r.recorded_at < as_of:
            n, total = redress.get(r.kind, (0, Decimal(0)))
            redress[r.kind] = (n + 1, total + r.amount)
    clocks = {"final_reply": [0, 0], "regulator_reply": [0, 0]}
    for c in closed:
        assert c.replied_at is not None
        for clock, deadline in (
            ("final_reply", c.bank_deadline),
            ("regulator_reply", c.regulator_deadline),
        ):
            clocks[clock][0 if c.replied_at <= deadline else 1] += 1
    breakdown: Counter[tuple[str, str]] = Counter()
    upheld_by: Counter[tuple[str, str]] = Counter()
    for c in closed:
        for axis, code in c.classification.items():
            breakdown[(axis, code)] += 1
            if c.outcome in (ComplaintOutcome.UPHELD, ComplaintOutcome.PARTLY_UPHELD):
                upheld_by[(axis, code)] += 1
    upheld = outcomes[ComplaintOutcome.UPHELD] + outcomes[ComplaintOutcome.PARTLY_UPHELD]
    return {
        "opened": sum(1 for c in mine if start <= c.opened_at < cut),
        "closed": len(closed),
        "bands": dict(bands),
        "upheld": outcomes[ComplaintOutcome.UPHELD],
        "partly_upheld": outcomes[ComplaintOutcome.PARTLY_UPHELD],
        "rejected": outcomes[ComplaintOutcome.REJECTED],
        "upheld_share": upheld / len(closed) if closed else None,
        "redress": {k: (n, f"{t:.2f}") for k, (n, t) in sorted(redress.items())},
        "redress_total": f"{sum((t for _, t in redress.values()), Decimal(0)):.2f}",
        "outstanding_at_start": sum(
            1 for c in mine if c.opened_at < start and not replied_by(c, start)
        ),
        "outstanding_at_end": sum(1 for c in mine if c.opened_at < cut and not replied_by(c, cut)),
        "clocks": {k: tuple(v) for k, v in clocks.items()},
        "breakdown": {key: (n, upheld_by[key]) for key, n in breakdown.items()},
    }


def figures(body: dict[str, Any]) -> dict[str, Any]:
    """The same figures, read from the API's answer."""
    return {
        "opened": body["opened"],
        "closed": body["closed"],
        "bands": {b["band"]: b["closed"] for b in body["bands"] if b["closed"]},
        "upheld": body["outcomes"]["upheld"],
        "partly_upheld": body["outcomes"]["partly_upheld"],
        "rejected": body["outcomes"]["rejected"],
        "upheld_share": body["upheld_share"],
        "redress": {r["kind"]: (r["count"], r["amount"]) for r in body["redress"]},
        "redress_total": body["redress_total"],
        "outstanding_at_start": body["outstanding_at_start"],
        "outstanding_at_end": body["outstanding_at_end"],
        "clocks": {c["clock"]: (c["met"], c["late"]) for c in body["clocks"]},
        "breakdown": {
            (b["axis"], b["code"]): (b["closed"], b["upheld"]) for b in body["breakdown"]
        },
    }


async def test_fca_half_year_return_matches_the_seed(
    seeded: tuple[ApiStack, RegulatorySeed],
) -> None:
    api, seed = seeded
    response = await api.get("supervisor", f"{PATH}?{AS_OF_QUERY}")
    assert response.status_code == 200, response.text
    body = response.json()
    want = expected(seed, "uk-fca", H2_START, H2_END, AS_OF)
    assert figures(body) == want
    # The seed is rich enough for the figures to mean something.
    assert want["closed"] > 20
    assert set(want["bands"]) == {"within_3_business_days", "within_8_weeks", "later"}
    assert want["outstanding_at_start"] > 0
    assert "goodwill" in want["redress"]
    assert body["nil_return"] is False
    assert [b["band"] for b in body["bands"]] == [
        "within_3_business_days",
        "within_8_weeks",
        "later",
    ]
    basis = body["basis"]
    assert basis["period"] == "2026-H2"
    assert basis["profile"] == "uk-fca"
    assert basis["profile_version"].startswith("uk-fca-2026.1+")
    assert (basis["taxonomy"], basis["taxonomy_version"]) == ("fca-disp-2026", "2026")
    assert datetime.fromisoformat(basis["window_start"]) == H2_START
    assert datetime.fromisoformat(basis["window_end"]) == H2_END
    assert datetime.fromisoformat(basis["register_as_of"]) == AS_OF
    labels = {(b["axis"], b["code"]): b["label_en"] for b in body["breakdown"]}
    assert labels[("cause", "terms_charges")] == "Terms and disputed sums/charges"


async def test_a_return_as_of_an_earlier_query_time_counts_only_what_was_there(
    seeded: tuple[ApiStack, RegulatorySeed],
) -> None:
    """The basis's register time makes the return reproducible: computed as of 1 Oct,
    only what the register held before then counts."""
    api, seed = seeded
    as_of = datetime.fromisoformat("2026-10-01T00:00:00+00:00")
    body = (await api.get("supervisor", f"{PATH}?as_of=2026-10-01T00:00:00Z")).json()
    assert figures(body) == expected(seed, "uk-fca", H2_START, H2_END, as_of)
    again = (await api.get("supervisor", f"{PATH}?as_of=2026-10-01T00:00:00Z")).json()
    assert again == body


async def test_nfra_quarter_counts_its_own_complaints_only(
    seeded: tuple[ApiStack, RegulatorySeed],
) -> None:
    api, seed = seeded
    body = (
        await api.get("supervisor", f"/v1/reports/regulatory/cn-nfra/2026-Q4?{AS_OF_QUERY}")
    ).json()
    # 2026-Q4 in Beijing: 1 Oct 00:00 +08:00 to 1 Jan 00:00 +08:00.
    start = datetime.fromisoformat("2026-09-30T16:00:00+00:00")
    end = datetime.fromisoformat("2026-12-31T16:00:00+00:00")
    assert figures(body) == expected(seed, "cn-nfra", start, end, AS_OF)
    assert [b["band"] for b in body["bands"]] == [
        "within_15_days",
        "within_30_days",
        "within_60_days",
        "later",
    ]
    assert body["basis"]["taxonomy"] == "jrt-0169-2018"


async def test_a_period_with_nothing_is_a_nil_return(
    seeded: tuple[ApiStack, RegulatorySeed],
) -> None:
    api, _ = seeded
    body = (await api.get("supervisor", "/v1/reports/regulatory/uk-fca/2025-H1")).json()
    assert body["nil_return"] is True
    assert (body["opened"], body["closed"], body["outstanding_at_start"]) == (0, 0, 0)
    assert body["outstanding_at_end"] == 0
    assert body["redress"] == []
    assert body["redress_total"] == "0.00"
    assert [b["closed"] for b in body["bands"]] == [0, 0, 0]
    assert body["upheld_share"] is None


async def test_the_return_as_csv_and_xlsx_holds_the_same_figures(
    seeded: tuple[ApiStack, RegulatorySeed],
) -> None:
    api, seed = seeded
    want = expected(seed, "uk-fca", H2_START, H2_END, AS_OF)
    query = f"{PATH}?{AS_OF_QUERY}"
    as_csv = await api.http.get(query, headers={**api.auth("supervisor"), "Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "item", "value"]
    table = {(section, item): value for section, item, value in rows[1:]}
    assert table[("return", "opened")] == str(want["opened"])
    assert table[("return", "outstanding_at_end")] == str(want["outstanding_at_end"])
    assert table[("band", "later")] == str(want["bands"].get("later", 0))
    assert table[("redress (GBP)", "total")] == want["redress_total"]
    assert table[("basis", "period")] == "2026-H2"

    as_xlsx = await api.get("supervisor", f"{query}&format=xlsx")
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(as_xlsx.content))
    sheet = {(r[0], r[1]): r[2] for r in book["Return"].iter_rows(min_row=2, values_only=True)}
    assert sheet[("return", "closed")] == want["closed"]
    assert sheet[("band", "within_3_business_days")] == want["bands"].get(
        "within_3_business_days", 0
    )
    breakdown = list(book["Breakdown"].iter_rows(min_row=2, values_only=True))
    assert {(r[1], r[2]): (r[5], r[6]) for r in breakdown} == want["breakdown"]


async def test_bad_requests_name_the_field(seeded: tuple[ApiStack, RegulatorySeed]) -> None:
    api, _ = seeded
    quarter = await api.get("supervisor", "/v1/reports/regulatory/uk-fca/2026-Q4")
    assert quarter.status_code == 422
    assert "period" in quarter.text
    assert "half year" in quarter.text
    unknown = await api.get("supervisor", "/v1/reports/regulatory/xx-none/2026-H2")
    assert unknown.status_code == 404
    assert "profile" in unknown.text
    naive = await api.get("supervisor", f"{PATH}?as_of=2026-10-01T00:00:00")
    assert naive.status_code == 422
    assert "as_of" in naive.text
    assert (await api.get("agent", PATH)).status_code == 403
