"""The reports as a supervisor uses them, on the real stack: the API on a socket, the
real worker, the dev server (Schedules need it: the time-skipping server answers
CreateSchedule "unimplemented"), the register on SQLite and PostgreSQL, and the HTML
page in headless Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import ScheduleBackfill, ScheduleOverlapPolicy

from contracts.periods import ReportKind
from ops.schedules import ensure_schedules
from policy.reports import report_rules
from store.db import session_scope
from store.idempotent import table_of
from store.report_tables import ReportRevision
from tests.api_fixtures import ApiStack
from tests.report_seed import Seed, build_seed, write_seed

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "img" / "monthly-report.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ZONE = ZoneInfo("Asia/Shanghai")
CHROMIUM_INSTALLED = CHROMIUM.exists()
REVISIONS = table_of(ReportRevision)


def local_month(moment: datetime) -> tuple[int, int]:
    here = moment.astimezone(ZONE)
    return here.year, here.month


@pytest.fixture(scope="module")
async def seeded(api: ApiStack) -> tuple[ApiStack, Seed]:
    seed = build_seed()
    write_seed(api.settings.database_url, seed)
    return api, seed


async def get_as(api: ApiStack, path: str, accept: str) -> httpx.Response:
    return await api.http.get(path, headers={**api.auth("supervisor"), "Accept": accept})


async def run_report(api: ApiStack, path: str) -> tuple[str, int]:
    response = await api.post("supervisor", path)
    assert response.status_code == 202, response.text
    workflow_id = response.json()["workflow_id"]
    result = await api.client.get_workflow_handle(workflow_id).result()
    return workflow_id, result["revision"] if isinstance(result, dict) else result.revision


async def test_monthly_report_runs_once_per_period_and_is_served(
    seeded: tuple[ApiStack, Seed],
) -> None:
    api, seed = seeded
    missing = await api.get("supervisor", "/v1/reports/monthly/2026-11")
    assert missing.status_code == 404
    assert "2026-11" in missing.json()["detail"]
    assert "POST /v1/reports/monthly/2026-11/run" in missing.json()["detail"]
    malformed = await api.get("supervisor", "/v1/reports/monthly/2026-13")
    assert malformed.status_code == 422
    assert "period" in str(malformed.json()["detail"][0]["loc"])
    assert (await api.post("supervisor", "/v1/reports/quarterly/2026-Q5/run")).status_code == 422
    assert (await api.get("agent", "/v1/reports/monthly/2026-11")).status_code == 403
    assert (await api.post("agent", "/v1/reports/monthly/2026-11/run")).status_code == 403

    # Two requests at once: one run.
    first, second = await asyncio.gather(
        api.post("supervisor", "/v1/reports/monthly/2026-11/run"),
        api.post("supervisor", "/v1/reports/monthly/2026-11/run"),
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["workflow_id"] == second.json()["workflow_id"] == "report-monthly-2026-11"
    assert first.json()["run_id"] == second.json()["run_id"]
    result = await api.client.get_workflow_handle("report-monthly-2026-11").result()
    assert result["revision"] == 1

    served = await api.get("supervisor", "/v1/reports/monthly/2026-11")
    assert served.status_code == 200
    body = served.json()
    assert (body["revision"], body["revisions"]) == (1, 1)
    expected = sum(local_month(c.opened_at) == (2026, 11) for c in seed.cases)
    assert body["report"]["volumes"]["total"] == expected
    assert body["report"]["requested_by"] == api.user("supervisor")

    # A later re-run adds a revision; the first stays as the meeting read it.
    _, revision = await run_report(api, "/v1/reports/monthly/2026-11/run")
    assert revision == 2
    latest = (await api.get("supervisor", "/v1/reports/monthly/2026-11")).json()
    assert (latest["revision"], latest["revisions"]) == (2, 2)
    older = (await api.get("supervisor", "/v1/reports/monthly/2026-11?revision=1")).json()
    assert older["revision"] == 1
    assert older["report"]["as_of"] == body["report"]["as_of"]
    gone = await api.get("supervisor", "/v1/reports/monthly/2026-11?revision=9")
    assert gone.status_code == 404


async def test_quarterly_findings_take_supervisor_notes(seeded: tuple[ApiStack, Seed]) -> None:
    api, seed = seeded
    assert (await api.get("supervisor", "/v1/reports/quarterly/2026-Q4")).status_code == 404
    await run_report(api, "/v1/reports/quarterly/2026-Q4/run")
    body = (await api.get("supervisor", "/v1/reports/quarterly/2026-Q4")).json()
    report = body["report"]
    assert (report["period"], report["previous_period"]) == ("2026-Q4", "2026-Q3")
    q4 = sum(local_month(c.opened_at) in ((2026, 10), (2026, 11), (2026, 12)) for c in seed.cases)
    assert report["current"]["cases"] == q4
    finding = report["findings"][0]["finding_id"]
    path = f"/v1/reports/quarterly/2026-Q4/findings/{finding}/notes"
    note = {"causes": "夜间值班人手不足", "proposals": "Add a second phone shift"}
    created = await api.post("supervisor", path, note)
    assert created.status_code == 201, created.text
    assert created.json()["author"] == api.user("supervisor")
    blank = await api.post("supervisor", path, {"causes": " ", "proposals": "x"})
    assert blank.status_code == 422
    unknown = "/v1/reports/quarterly/2026-Q4/findings/f-000000000000/notes"
    assert (await api.post("supervisor", unknown, note)).status_code == 404
    again = (await api.get("supervisor", "/v1/reports/quarterly/2026-Q4")).json()
    assert [(n["finding_id"], n["causes"]) for n in again["notes"]] == [(finding, note["causes"])]
    page = await get_as(api, "/v1/reports/quarterly/2026-Q4?lang=zh", "text/html")
    assert page.status_code == 200
    assert "夜间值班人手不足" in page.text
    assert "<svg" in page.text


async def test_feedback_table_filters_and_exports_csv(seeded: tuple[ApiStack, Seed]) -> None:
    api, seed = seeded
    november = [f for f in seed.feedback if local_month(f.at) == (2026, 11)]
    listed = (await api.get("supervisor", "/v1/feedback?period=2026-11&limit=500")).json()
    assert listed["total"] == len(november)
    assert {i["feedback_id"] for i in listed["items"]} == {f.feedback_id for f in november}
    fives = (await api.get("supervisor", "/v1/feedback?period=2026-11&score=5")).json()
    assert fives["total"] == sum(f.score == 5 for f in november)
    phone = (await api.get("supervisor", "/v1/feedback?channel=phone&category=cards")).json()
    assert phone["total"] == sum(
        f.channel == "phone" and f.category == "cards" for f in seed.feedback
    )
    remedied = {r.case_id: r.amount for r in seed.remedies}
    for item in listed["items"]:
        assert item["remedies"] == (1 if item["case_id"] in remedied else 0)
        if item["case_id"] in remedied:
            assert item["remedies_amount"] == str(remedied[item["case_id"]])
    handled = (await api.get("supervisor", "/v1/feedback?handled=true")).json()
    assert handled["total"] == 0  # nobody acted on a case after its feedback in the seed
    assert (await api.get("supervisor", "/v1/feedback?period=2026-1")).status_code == 422
    assert (await api.get("supervisor", "/v1/feedback?score=6")).status_code == 422
    assert (await api.get("agent", "/v1/feedback")).status_code == 403

    exported = await get_as(api, "/v1/feedback?period=2026-11", "text/csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == len(november)
    comments = {f.feedback_id: f.comment or "" for f in november}
    assert {r["feedback_id"]: r["comment"] for r in rows} == comments


async def test_html_report_shows_its_charts_in_chromium(
    seeded: tuple[ApiStack, Seed], tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    api, _ = seeded
    status = await api.get("supervisor", "/v1/reports/monthly/2026-11")
    if status.status_code == 404:
        await run_report(api, "/v1/reports/monthly/2026-11/run")
    english = await get_as(api, "/v1/reports/monthly/2026-11?lang=en", "text/html")
    assert english.headers["content-type"].startswith("text/html")
    assert "Weak links" in english.text
    # Self-contained: no script, stylesheet or image is fetched from anywhere.
    for fetch in ("<script", "<link", 'src="', "url(http"):
        assert fetch not in english.text
    assert CHROMIUM_INSTALLED, "install the Debian package chromium (make test does)"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(
                viewport={"width": 1200, "height": 900},
                extra_http_headers={**api.auth("supervisor"), "Accept": "text/html"},
            )
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(f"{api.base_url}/v1/reports/monthly/2026-11?lang=zh")
            await page.wait_for_load_state("networkidle")
            assert requested == [f"{api.base_url}/v1/reports/monthly/2026-11?lang=zh"]
            assert "月度服务质量分析" in await page.title()
            charts = page.locator("figure.chart svg")
            assert await charts.count() >= 4
            for i in range(await charts.count()):
                chart = charts.nth(i)
                box = await chart.bounding_box()
                assert box is not None
                assert box["width"] > 100
                assert box["height"] > 50
                # Bars and axes are drawn: the SVG has painted shapes, not an empty frame.
                assert await chart.locator("path").count() > 5
            # The README's picture is refreshed only when asked for; otherwise the shot
            # goes to the test's own folder, so a test run leaves the tree clean.
            shot = SCREENSHOT if os.environ.get("CASE_UPDATE_SCREENSHOTS") else tmp_path / "r.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shot), full_page=True)
        finally:
            await browser.close()
    assert shot.stat().st_size > 10_000


def revisions(database_url: str, period: str) -> list[int]:
    with session_scope(database_url) as session:
        rows = session.execute(
            select(REVISIONS.c.revision).where(
                REVISIONS.c.kind == "monthly", REVISIONS.c.period == period
            )
        ).all()
    return sorted(r[0] for r in rows)


async def wait_for(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not check():  # noqa: ASYNC110  (polling the register, not an event)
            await asyncio.sleep(0.2)


async def test_schedules_fire_on_the_first_and_backfill_stores_the_month_before(
    seeded: tuple[ApiStack, Seed],
) -> None:
    api, _ = seeded
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    hour = report_rules().run_hour
    ids = await ensure_schedules(api.client, api.settings, id_prefix=prefix)
    again = await ensure_schedules(api.client, api.settings, id_prefix=prefix)
    assert ids == again  # idempotent: updated in place, not duplicated
    monthly = api.client.get_schedule_handle(ids[ReportKind.MONTHLY])
    quarterly = api.client.get_schedule_handle(ids[ReportKind.QUARTERLY])
    try:
        for handle, months in ((monthly, set(range(1, 13))), (quarterly, {1, 4, 7, 10})):
            times = (await handle.describe()).info.next_action_times
            assert len(times) >= 3
            local = [t.astimezone(ZONE) for t in times[:3]]
            now = datetime.now(ZONE)
            for moment in local:
                assert (moment.day, moment.hour, moment.minute, moment.second) == (1, hour, 0, 0)
                assert moment.month in months
                assert moment > now
            assert local == sorted(local)
            if months == set(range(1, 13)):
                # The coming months, one after the other.
                expected = []
                year, month = now.year, now.month
                for _ in range(3):
                    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
                    expected.append((year, month))
                if (now.day, now.hour) < (1, hour):
                    expected = [(now.year, now.month), *expected[:2]]
                assert [(m.year, m.month) for m in local] == expected

        # A backfill across the end of September: the 1 October run reports September.
        run_at = datetime(2026, 10, 1, hour, 0, tzinfo=ZONE).astimezone(UTC)
        backfill = ScheduleBackfill(
            start_at=run_at - timedelta(hours=12),
            end_at=run_at + timedelta(minutes=1),
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        )
        url = api.settings.database_url
        assert revisions(url, "2026-09") == []
        await monthly.backfill(backfill)
        await wait_for(lambda: revisions(url, "2026-09") == [1])
        description = await monthly.describe()
        assert description.info.num_actions >= 1
        # The second run of the same period makes a new revision.
        await wait_for(lambda: not _running(description))
        await asyncio.sleep(0.5)
        await monthly.backfill(backfill)
        await wait_for(lambda: revisions(url, "2026-09") == [1, 2])
        with session_scope(url) as session:
            data = session.execute(
                select(REVISIONS.c.data).where(
                    REVISIONS.c.kind == "monthly",
                    REVISIONS.c.period == "2026-09",
                    REVISIONS.c.revision == 1,
                )
            ).scalar_one()
        assert data["period"] == "2026-09"
        assert data["requested_by"] == "schedule"
    finally:
        await monthly.delete()
        await quarterly.delete()


def _running(description: object) -> bool:
    return bool(getattr(getattr(description, "info", None), "running_actions", []))
