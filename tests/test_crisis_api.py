"""Crisis response end to end on the real parts: the dev server, the API on a real
socket, the real worker and the register on SQLite and PostgreSQL.

200 complaints about one product come in through ``POST /v1/cases`` within seconds;
under a short rules file (evaluation every second, a surge at 50) the monitor opens
one incident, visible through ``GET /v1/crises`` with all 200 members. The commander
then acknowledges, has the holding message sent and closes with a review whose
impact the test checks against what it opened itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from contracts.crisis import MonitorInput
from ops.crisis import ensure_crisis_monitor
from store.db import session_scope
from store.tables import CustomerNotification
from tests.api_fixtures import ApiStack
from tests.db_fixtures import environment
from workflows.crisis_monitor import CrisisMonitorWorkflow

COMPLAINTS = 200
SHORT_RULES = """\
version = "e2e-crisis"
evaluate_every = "PT1S"
late_allowance = "PT5M"

[surge]
event_types = ["opened"]
kinds = ["complaint"]
window = "PT1H"
baseline_weeks = 1
min_expected = 1.0
min_count = 50
p_value = 0.001
scopes = [["product"]]
severity = "high"

[incident]
acknowledge_within = "PT15M"
ladder = ["duty_manager"]
commander_role = "duty_manager"
holding_batch = 100
holding_pause = "PT0.2S"

[incident.update_every]
critical = "PT30M"
high = "PT1H"
medium = "PT2H"
"""


@pytest.fixture(scope="module")
def short_rules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("crisis") / "crisis.toml"
    path.write_text(SHORT_RULES, encoding="utf-8")
    with environment(CASE_CRISIS_FILE=str(path)):
        yield path


def complaint(product: str, n: int) -> dict[str, Any]:
    return {
        "kind": "complaint",
        "channel": "mobile_banking",
        "customer": {
            "id": f"CUST-E2E-{n:04d}",
            "name": "王小明" if n % 2 else "Anna Smith",
            "phone": f"+86 138 0000 {n:04d}",
            "language": "zh" if n % 2 else "en",
        },
        "category": "card_fees",
        "product": product,
        "description": "The app charged my card twice",
    }


async def until(check: Any, *, seconds: float = 60.0) -> Any:
    async with asyncio.timeout(seconds):
        while True:
            value = await check()
            if value is not None:
                return value
            await asyncio.sleep(0.5)


async def test_two_hundred_complaints_open_one_incident_with_every_member(
    api: ApiStack, short_rules: Path
) -> None:
    product = f"e2e_card_{uuid.uuid4().hex[:6]}"
    prefix = f"crisis-e2e{uuid.uuid4().hex[:6]}"
    monitor = await api.client.start_workflow(
        CrisisMonitorWorkflow.run,
        MonitorInput(id_prefix=prefix),
        id=f"{prefix}-monitor",
        task_queue=api.settings.task_queue,
    )
    try:
        gate = asyncio.Semaphore(12)

        async def open_one(n: int) -> str:
            async with gate:
                response = await api.post("frontline", "/v1/cases", complaint(product, n))
                assert response.status_code == 201, response.text
                case_id: str = response.json()["case_id"]
                return case_id

        case_ids = await asyncio.gather(*(open_one(n) for n in range(COMPLAINTS)))
        assert len(set(case_ids)) == COMPLAINTS

        async def listed() -> dict[str, Any] | None:
            response = await api.get("supervisor", "/v1/crises", params={"status": "open"})
            assert response.status_code == 200, response.text
            ours = [i for i in response.json()["items"] if i["incident_id"].startswith(prefix)]
            assert len(ours) <= 1, "one incident per rule and scope, not per case"
            if ours and ours[0]["member_count"] == COMPLAINTS:
                found: dict[str, Any] = ours[0]
                return found
            return None

        item = await until(listed)
        words = product.replace("_", " ")
        assert item["rule"] == "surge"
        assert item["explanation"].startswith(f"{words} complaints: ")
        incident_id = item["incident_id"]

        detail = (await api.get("agent", f"/v1/crises/{incident_id}")).json()
        assert sorted(detail["members"]) == sorted(case_ids)

        async def linked() -> dict[str, Any] | None:
            body = (await api.get("supervisor", f"/v1/crises/{incident_id}")).json()
            return body if body["linked"] == COMPLAINTS else None

        await until(linked)
        case = (await api.get("agent", f"/v1/cases/{case_ids[7]}")).json()
        assert [i["incident_id"] for i in case["incidents"]] == [incident_id]

        # The commander's actions: only supervisors; a misspelt field is a 422.
        path = f"/v1/crises/{incident_id}"
        assert (await api.post("agent", f"{path}/acknowledge")).status_code == 403
        bad = await api.post("supervisor", f"{path}/updates", {"mesage": "typo"})
        assert bad.status_code == 422
        assert "message" in bad.text
        ack = await api.post("supervisor", f"{path}/acknowledge", {"note": "On it"})
        assert ack.status_code == 200, ack.text
        assert ack.json()["status"] == "acknowledged"
        again = await api.post("supervisor", f"{path}/acknowledge")
        assert again.status_code == 409
        sent = await api.post("supervisor", f"{path}/notify-customers")
        assert sent.status_code == 200, sent.text

        async def held() -> dict[str, Any] | None:
            body = (await api.get("supervisor", path)).json()
            return body if body["holding_done"] == COMPLAINTS else None

        await until(held, seconds=90)

        def holding_rows() -> list[CustomerNotification]:
            with session_scope(api.settings.database_url) as session:
                return list(
                    session.exec(
                        select(CustomerNotification).where(
                            col(CustomerNotification.case_id).in_(case_ids),
                            col(CustomerNotification.template) == "incident_holding",
                        )
                    ).all()
                )

        async def all_held() -> list[CustomerNotification] | None:
            rows = await asyncio.to_thread(holding_rows)
            return rows if len(rows) >= COMPLAINTS else None

        rows = await until(all_held)
        assert len(rows) == COMPLAINTS
        assert len({r.customer_id for r in rows}) == COMPLAINTS

        closed = await api.post(
            "supervisor",
            f"{path}/close",
            {"cause": "Card fee batch job ran twice", "improvement_actions": ["Guard the job"]},
        )
        assert closed.status_code == 200, closed.text
        review = closed.json()["review"]
        assert review["impact"]["cases"] == COMPLAINTS
        assert review["impact"]["customers"] == COMPLAINTS
        assert closed.json()["status"] == "closed"
        after = await api.post("supervisor", f"{path}/updates", {"message": "late"})
        assert after.status_code == 409
    finally:
        await monitor.terminate("test over")


async def test_supervisor_opens_an_incident_by_hand_and_attaches_cases(
    api: ApiStack, short_rules: Path
) -> None:
    opened = []
    for n in range(2):
        response = await api.post("frontline", "/v1/cases", complaint("manual_card", 9000 + n))
        assert response.status_code == 201, response.text
        opened.append(response.json()["case_id"])
    body = {"title": "Branch system outage", "explanation": "Counter terminals down"}
    assert (await api.post("agent", "/v1/crises", body)).status_code == 403
    missing = await api.post("supervisor", "/v1/crises", {"title": "No explanation"})
    assert missing.status_code == 422
    assert "explanation" in missing.text
    created = await api.post("supervisor", "/v1/crises", {**body, "case_ids": opened[:1]})
    assert created.status_code == 201, created.text
    incident_id = created.json()["incident_id"]
    attached = await api.post(
        "supervisor", f"/v1/crises/{incident_id}/cases", {"case_ids": opened[1:]}
    )
    assert attached.status_code == 200, attached.text
    assert attached.json()["members"] == opened
    assert attached.json()["rule"] == "manual"
    unknown = await api.get("supervisor", "/v1/crises/crisis-nope")
    assert unknown.status_code == 404
    await api.client.get_workflow_handle(incident_id).terminate("test over")


async def test_the_monitor_is_started_once(api: ApiStack) -> None:
    monitor_id = f"crisis-monitor-{uuid.uuid4().hex[:6]}"
    first = await ensure_crisis_monitor(api.client, api.settings, workflow_id=monitor_id)
    second = await ensure_crisis_monitor(api.client, api.settings, workflow_id=monitor_id)
    assert first == second
    assert first
    await api.client.get_workflow_handle(monitor_id).terminate("test over")
