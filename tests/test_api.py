"""The HTTP API over a real socket, against the real worker and dev server, with the
register on SQLite and on PostgreSQL (the ``api`` fixture runs the module once each)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from api.ids import CASE_ID_PATTERN, case_id_for_key
from api.main import create_app
from api.stuck_queries import DEPARTMENT_OVERDUE, Stuck
from contracts.case import case_workflow_id
from tests.api_fixtures import EXTRA_CHANNEL, ApiStack, free_port, serve

UNKNOWN_CASE = "C00000000"
WAIT_SECONDS = 15.0


def complaint(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint",
        "channel": "phone",
        "customer": {
            "id": "CUST-8812",
            "name": "王小明",
            "phone": "+86 138 0013 8000",
            "email": "xm.wang@example.cn",
        },
        "category": "card_fees",
        "product": "platinum_card",
        "priority": "normal",
        "description": "Annual fee charged although it was waived at sign-up",
    }
    body.update(changes)
    return body


def inquiry(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": "inquiry",
        "category": "card_limits",
        "description": "How do I raise my card limit?",
    }
    return complaint(**{**fields, **changes})


async def opened(api: ApiStack, body: dict[str, Any], *, who: str = "frontline") -> str:
    response = await api.post(who, "/v1/cases", body)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


async def act(
    api: ApiStack, who: str, case_id: str, action: str, body: Any = None, *, status: int = 200
) -> dict[str, Any]:
    response = await api.post(who, f"/v1/cases/{case_id}/{action}", body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str) -> None:
    """Projections and visibility trail the workflow: wait for them, within reason."""
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def events(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["type"], e["actor"]) for e in state["timeline"]]


# --- health, docs ------------------------------------------------------------------------


async def test_health_and_readiness(api: ApiStack) -> None:
    health = await api.http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"temporal": "ok", "database": "ok"}}


async def test_readiness_names_temporal_when_it_does_not_answer(api: ApiStack) -> None:
    # A client for a port nothing listens on: lazy, so the app starts and readyz asks.
    dead = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    running = await serve(create_app(api.settings, dead))
    try:
        async with httpx.AsyncClient(base_url=running.base_url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["database"] == "ok"
            assert checks["temporal"].startswith("failed")
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await running.stop()


async def test_openapi_lists_every_resource(api: ApiStack) -> None:
    assert (await api.http.get("/docs")).status_code == 200
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/cases",
        "/v1/cases/{case_id}",
        "/v1/cases/{case_id}/acknowledge",
        "/v1/cases/{case_id}/remedies/{remedy_id}/approve",
        "/v1/cases/{case_id}/clocks/{name}/extend",
        "/v1/departments/{code}/cases",
        "/codec/decode",
        "/readyz",
    ):
        assert path in paths


# --- who may do what ---------------------------------------------------------------------


async def test_requests_without_a_known_token_get_401(api: ApiStack) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token-anyone-was-given"},
        {"Authorization": f"Basic {api.tokens['supervisor']}"},
    ):
        response = await api.http.post("/v1/cases", json=complaint(), headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await api.http.get(f"/v1/cases/{UNKNOWN_CASE}")).status_code == 401
    assert (await api.http.post("/codec/decode", json={"payloads": []})).status_code == 401


async def test_each_role_is_refused_what_it_may_not_do(api: ApiStack) -> None:
    case_id = await opened(api, complaint())
    path = f"/v1/cases/{case_id}"
    refused = [
        ("frontline", f"{path}/acknowledge", {}),
        ("frontline", f"{path}/notes", {"note": "x"}),
        ("cards", "/v1/cases", complaint()),
        ("agent", f"{path}/remedies/R1/approve", {"approve": True}),
        ("agent", f"{path}/clocks/first_response/pause", {"reason": "customer abroad"}),
        ("agent", f"{path}/clocks/first_response/extend", {"by": "PT1H", "reason": "x"}),
        ("agent", f"{path}/escalate", {"reason": "x"}),
        ("cards", f"{path}/acknowledge", {}),
        ("frontline", "/codec/decode", {"payloads": []}),
        ("agent", "/codec/encode", {"payloads": []}),
    ]
    for who, url, body in refused:
        response = await api.post(who, url, body)
        assert response.status_code == 403, (who, url, response.text)
    assert (await api.get("agent", "/v1/cases", params={"stuck": "breached"})).status_code == 403
    assert (await api.get("frontline", "/v1/departments/cards/cases")).status_code == 403
    # Nothing of it reached the case.
    state = (await api.get("supervisor", path)).json()
    assert [t for t, _ in events(state)] == ["opened", "entered_in_complaint_register"]


# --- opening cases -----------------------------------------------------------------------


async def test_open_a_complaint_and_read_it_back(api: ApiStack) -> None:
    response = await api.post("frontline", "/v1/cases", complaint())
    assert response.status_code == 201, response.text
    case = response.json()
    assert CASE_ID_PATTERN.match(case["case_id"])
    assert response.headers["Location"] == f"/v1/cases/{case['case_id']}"
    assert case["stage"] == "received"
    assert case["opened_by"] == api.user("frontline")
    # The promises the frontline can give the customer on the spot (R3.2, R4.3, R4.4).
    opened_at = datetime.fromisoformat(case["opened_at"])
    clocks = case["clocks"]
    assert set(clocks) == {"first_response", "investigation", "final_reply"}
    assert all(c["status"] == "running" for c in clocks.values())
    first = datetime.fromisoformat(clocks["first_response"]["deadline"])
    assert first - opened_at == timedelta(minutes=5)
    assert datetime.fromisoformat(clocks["investigation"]["deadline"]) - opened_at == timedelta(
        hours=48
    )
    read = await api.get("frontline", f"/v1/cases/{case['case_id']}")
    assert read.status_code == 200
    state = read.json()
    assert state["case_id"] == case["case_id"]
    assert state["customer_id"] == "CUST-8812"
    assert events(state)[0] == ("opened", api.user("frontline"))
    # The case reference as a caller might read it out: lower case, hyphen, O for 0.
    spoken = case["case_id"].lower().replace("0", "o")
    spoken = f"{spoken[:5]}-{spoken[5:]}"
    assert (await api.get("agent", f"/v1/cases/{spoken}")).json()["case_id"] == case["case_id"]


async def test_channels_come_from_configuration(api: ApiStack) -> None:
    response = await api.post("frontline", "/v1/cases", inquiry(channel=EXTRA_CHANNEL))
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == EXTRA_CHANNEL
    refused = await api.post("frontline", "/v1/cases", inquiry(channel="carrier_pigeon"))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "channel"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (complaint(description=None), ["body", "description"]),
        (complaint(kind="grievance"), ["body", "kind"]),
        (complaint(priority="whenever"), ["body", "priority"]),
        (complaint(customer={"id": "C1", "name": "X", "phone": "call me"}), None),
        (complaint(actor="someone.else"), ["body", "actor"]),
    ],
)
async def test_malformed_intake_is_422_naming_the_field(
    api: ApiStack, body: dict[str, Any], loc: list[str] | None
) -> None:
    response = await api.post("frontline", "/v1/cases", body)
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert (loc in locs) if loc else (["body", "customer", "phone"] in locs)


async def test_the_same_idempotency_key_ten_times_at_once_opens_one_case(api: ApiStack) -> None:
    key = f"intake-{uuid.uuid4()}"
    responses = await asyncio.gather(
        *(api.post("frontline", "/v1/cases", complaint(), key=key) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses]
    case_ids = {r.json()["case_id"] for r in responses}
    assert case_ids == {case_id_for_key(api.user("frontline"), key)}
    case_id = case_ids.pop()
    # A retry much later is still the same case, and only one was opened.
    again = await api.post("frontline", "/v1/cases", complaint(), key=key)
    assert (again.status_code, again.json()["case_id"]) == (200, case_id)
    state = (await api.get("agent", f"/v1/cases/{case_id}")).json()
    assert [t for t, _ in events(state)].count("opened") == 1
    # The key is the caller's own: another caller's key of the same text is another case.
    other = await api.post("agent", "/v1/cases", complaint(), key=key)
    assert other.status_code == 201
    assert other.json()["case_id"] != case_id


async def test_a_reused_key_for_a_different_intake_opens_its_own_case(api: ApiStack) -> None:
    key = f"intake-{uuid.uuid4()}"
    first = await api.post("frontline", "/v1/cases", complaint(), key=key)
    different = await api.post("frontline", "/v1/cases", inquiry(), key=key)
    assert (first.status_code, different.status_code) == (201, 201)
    assert different.json()["case_id"] == case_id_for_key(api.user("frontline"), key, 1)
    assert different.json()["kind"] == "inquiry"
    retried = await api.post("frontline", "/v1/cases", inquiry(), key=key)
    assert (retried.status_code, retried.json()["case_id"]) == (200, different.json()["case_id"])


# --- errors ------------------------------------------------------------------------------


async def test_unknown_cases_are_404(api: ApiStack) -> None:
    for path in (f"/v1/cases/{UNKNOWN_CASE}", "/v1/cases/not-a-case"):
        response = await api.get("agent", path)
        assert response.status_code == 404
        assert "no case" in response.json()["detail"]
    response = await api.post("agent", f"/v1/cases/{UNKNOWN_CASE}/acknowledge", {})
    assert response.status_code == 404
    response = await api.post("supervisor", f"/v1/cases/{UNKNOWN_CASE}/escalate", {"reason": "x"})
    assert response.status_code == 404


async def test_an_action_the_stage_does_not_allow_is_409_and_records_nothing(
    api: ApiStack,
) -> None:
    case_id = await opened(api, inquiry())
    before = (await api.get("agent", f"/v1/cases/{case_id}")).json()
    response = await api.post("agent", f"/v1/cases/{case_id}/department-plan", {"plan": "p"})
    assert response.status_code == 409
    assert "awaiting_department_plan" in response.json()["detail"]
    response = await api.post("agent", f"/v1/cases/{case_id}/investigation", {"findings": "f"})
    assert response.status_code == 409
    response = await api.post("agent", f"/v1/cases/{case_id}/close", None)
    assert response.status_code == 409
    after = (await api.get("agent", f"/v1/cases/{case_id}")).json()
    assert after == before


async def test_a_value_wrong_for_the_case_is_422_naming_the_field(api: ApiStack) -> None:
    case_id = await opened(api, complaint())
    path = f"/v1/cases/{case_id}"
    await act(api, "agent", case_id, "acknowledge", {"note": "called back"})
    await act(api, "agent", case_id, "assign", {"owner": "li.na"})
    checks: list[tuple[str, str, dict[str, Any], list[str]]] = [
        ("agent", "transfer", {"department": "nowhere", "reason": "r"}, ["body", "department"]),
        ("agent", "remedies", {"kind": "fee_refund", "description": "refund"}, ["body", "amount"]),
        ("supervisor", "remedies/R9/approve", {"approve": True}, ["path", "remedy_id"]),
        ("supervisor", "clocks/nap/pause", {"reason": "r"}, ["path", "name"]),
        ("agent", "answer", {}, ["body", "answer"]),
        ("agent", "notes", {"note": "x", "actor": "someone.else"}, ["body", "actor"]),
    ]
    for who, action, body, loc in checks:
        response = await api.post(who, f"{path}/{action}", body)
        assert response.status_code == 422, (action, response.text)
        assert loc in [error["loc"] for error in response.json()["detail"]], response.text
    # Maker-checker: a supervisor cannot approve the remedy they proposed.
    proposed = await act(
        api,
        "supervisor",
        case_id,
        "remedies",
        {"kind": "compensation", "amount": "900.00", "description": "goodwill"},
    )
    remedy_id = proposed["remedies"][-1]["remedy_id"]
    response = await api.post("supervisor", f"{path}/remedies/{remedy_id}/approve", {})
    assert response.status_code == 422
    assert "maker-checker" in response.json()["detail"][0]["msg"]


async def test_a_case_whose_workflow_has_ended_refuses_actions_with_409(api: ApiStack) -> None:
    case_id = await opened(api, inquiry())
    await api.client.get_workflow_handle(case_workflow_id(case_id)).terminate("test: ended")
    response = await api.post("agent", f"/v1/cases/{case_id}/notes", {"note": "too late"})
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    # Its record still reads.
    assert (await api.get("agent", f"/v1/cases/{case_id}")).json()["case_id"] == case_id


# --- handling ----------------------------------------------------------------------------


async def test_a_simple_inquiry_is_answered_at_once(api: ApiStack) -> None:
    case_id = await opened(api, inquiry())
    state = await act(api, "agent", case_id, "answer", {"answer": "Use the app: Cards > Limit"})
    assert state["stage"] == "resolved"
    assert state["clocks"]["first_response"]["status"] == "met"
    assert ("answered", api.user("agent")) in events(state)
    state = await act(api, "agent", case_id, "close", None)
    assert state["stage"] == "closed"


async def test_the_full_complaint_path(api: ApiStack) -> None:
    case_id = await opened(api, complaint(priority="high"))
    agent, supervisor = api.user("agent"), api.user("supervisor")

    state = await act(api, "agent", case_id, "acknowledge", {"note": "sorry to hear"})
    assert state["stage"] == "acknowledged"
    assert state["clocks"]["first_response"]["status"] == "met"
    state = await act(api, "agent", case_id, "assign", {"owner": agent, "reason": "on duty"})
    assert (state["stage"], state["owner"]) == ("investigating", agent)
    state = await act(
        api, "agent", case_id, "transfer", {"department": "cards", "reason": "fee waiver"}
    )
    assert (state["stage"], state["department"]) == ("awaiting_department_plan", "cards")
    assert state["clocks"]["department_plan"]["status"] == "running"
    state = await act(api, "cards", case_id, "department-plan", {"plan": "check the waiver"})
    assert state["stage"] == "awaiting_department_result"
    state = await act(api, "cards", case_id, "department-result", {"result": "fee refunded"})
    assert state["stage"] == "awaiting_customer_update"
    state = await act(api, "agent", case_id, "customer-update", {"message": "refund on its way"})
    assert state["stage"] == "investigating"
    state = await act(
        api, "agent", case_id, "investigation", {"findings": "waiver missed", "upheld": True}
    )
    assert state["stage"] == "awaiting_final_reply"
    assert state["clocks"]["investigation"]["status"] == "met"

    # Above the policy's threshold (500 CNY) a remedy waits for a supervisor (R4.4).
    state = await act(
        api,
        "agent",
        case_id,
        "remedies",
        {"kind": "compensation", "description": "goodwill", "amount": "800.00"},
    )
    remedy = state["remedies"][-1]
    assert (remedy["status"], Decimal(remedy["amount"])) == ("pending_approval", Decimal("800"))
    refused = await api.post("agent", f"/v1/cases/{case_id}/reply", {"reply": "done"})
    assert refused.status_code == 409
    assert remedy["remedy_id"] in refused.json()["detail"]
    state = await act(
        api,
        "supervisor",
        case_id,
        f"remedies/{remedy['remedy_id']}/approve",
        {"approve": True, "reason": "fair"},
    )
    assert state["remedies"][-1]["status"] == "approved"
    assert state["remedies"][-1]["decided_by"] == supervisor

    state = await act(api, "agent", case_id, "reply", {"reply": "Refund and 800 CNY goodwill"})
    assert state["stage"] == "resolved"
    assert state["clocks"]["final_reply"]["status"] == "met"
    state = await act(api, "agent", case_id, "close", {"reason": "customer satisfied"})
    assert state["stage"] == "closed"
    assert state["clocks"]["survey"]["status"] == "running"
    state = await act(api, "frontline", case_id, "feedback", {"score": 5, "comment": "quick"})
    assert state["feedback"]["score"] == 5

    # Every step, with who did it (R2.2): an action answers with the events it added,
    # the case's own page has the whole timeline.
    frontline = api.user("frontline")
    assert events(state) == [("clock_met", "system"), ("feedback_received", frontline)]
    steps = events((await api.get("agent", f"/v1/cases/{case_id}")).json())
    for expected in [
        ("opened", api.user("frontline")),
        ("acknowledged", agent),
        ("owner_assigned", agent),
        ("transferred", agent),
        ("department_plan_received", api.user("cards")),
        ("department_result_received", api.user("cards")),
        ("customer_updated", agent),
        ("investigation_recorded", agent),
        ("remedy_proposed", agent),
        ("remedy_approved", supervisor),
        ("final_reply_sent", agent),
        ("closed", agent),
        ("feedback_received", api.user("frontline")),
    ]:
        assert expected in steps, expected

    # The case may be reopened within its window.
    state = await act(api, "agent", case_id, "reopen", {"reason": "refund never arrived"})
    assert state["stage"] == "received"


async def test_a_department_works_on_its_own_cases_only(api: ApiStack) -> None:
    case_id = await opened(api, inquiry())
    path = f"/v1/cases/{case_id}"
    # Not transferred yet: no department may read it.
    assert (await api.get("cards", path)).status_code == 403
    await act(api, "agent", case_id, "transfer", {"department": "cards", "reason": "limits"})

    assert (await api.get("cards", path)).status_code == 200
    assert (await api.get("loans", path)).status_code == 403
    refused = await api.post("loans", f"{path}/department-plan", {"plan": "not ours"})
    assert refused.status_code == 403
    state = await act(api, "cards", case_id, "department-plan", {"plan": "raise to 50k"})
    assert state["stage"] == "awaiting_department_result"
    assert ("department_plan_received", api.user("cards")) in events(state)

    # Its work list: its own code only.
    async def listed() -> bool:
        response = await api.get("cards", "/v1/departments/cards/cases", params={"limit": 500})
        assert response.status_code == 200
        return case_id in [item["case_id"] for item in response.json()["items"]]

    await eventually(listed, what="the case in the cards work list")
    assert (await api.get("loans", "/v1/departments/cards/cases")).status_code == 403
    assert (await api.get("agent", "/v1/departments/cards/cases")).status_code == 200
    denied = await api.get("loans", "/v1/cases", params={"department": "cards"})
    assert denied.status_code == 403

    state = await act(api, "cards", case_id, "department-result", {"result": "raised"})
    assert state["stage"] == "awaiting_customer_update"
    state = await act(api, "agent", case_id, "customer-update", {"message": "limit raised"})
    assert state["stage"] == "resolved"


async def test_supervisor_clock_changes_escalation_and_notes(api: ApiStack) -> None:
    case_id = await opened(api, complaint())
    first = "first_response"
    state = await act(api, "supervisor", case_id, f"clocks/{first}/pause", {"reason": "abroad"})
    assert state["clocks"][first]["status"] == "paused"
    state = await act(api, "supervisor", case_id, f"clocks/{first}/resume", None)
    assert state["clocks"][first]["status"] == "running"
    before = datetime.fromisoformat(state["clocks"][first]["deadline"])
    state = await act(
        api, "supervisor", case_id, f"clocks/{first}/extend", {"by": "PT1H", "reason": "ok'd"}
    )
    assert datetime.fromisoformat(state["clocks"][first]["deadline"]) - before == timedelta(hours=1)
    assert state["clocks"][first]["extensions"] == 1
    state = await act(
        api,
        "supervisor",
        case_id,
        "clocks/final_reply/extend",
        {"working_days": 2, "reason": "needs the branch's records"},
    )
    assert state["clocks"]["final_reply"]["extensions"] == 1
    conflict = await api.post(
        "supervisor", f"/v1/cases/{case_id}/clocks/survey/pause", {"reason": "r"}
    )
    assert conflict.status_code == 409
    state = await act(api, "supervisor", case_id, "escalate", {"reason": "VIP customer"})
    assert state["escalation_level"] == 1
    state = await act(api, "agent", case_id, "notes", {"note": "customer prefers email"})
    assert ("note_added", api.user("agent")) in events(state)


async def test_a_retried_action_with_the_same_key_applies_once(api: ApiStack) -> None:
    case_id = await opened(api, complaint())
    key = f"note-{uuid.uuid4()}"
    path = f"/v1/cases/{case_id}/notes"
    responses = await asyncio.gather(
        *(api.post("agent", path, {"note": "called twice?"}, key=key) for _ in range(3))
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    again = await api.post("agent", path, {"note": "called twice?"}, key=key)
    assert again.status_code == 200
    state = (await api.get("agent", f"/v1/cases/{case_id}")).json()
    assert [t for t, _ in events(state)].count("note_added") == 1
    # A new key is a new note.
    await api.post("agent", path, {"note": "second"}, key=f"note-{uuid.uuid4()}")
    state = (await api.get("agent", f"/v1/cases/{case_id}")).json()
    assert [t for t, _ in events(state)].count("note_added") == 2


# --- lists -------------------------------------------------------------------------------


async def test_the_register_lists_filters_and_pages(api: ApiStack) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    ids = []
    for channel in ("phone", "phone", "counter"):
        case_id = await opened(api, complaint(channel=channel))
        await act(api, "agent", case_id, "acknowledge", {})
        await act(api, "agent", case_id, "assign", {"owner": owner})
        ids.append(case_id)

    async def all_projected() -> bool:
        response = await api.get("agent", "/v1/cases", params={"owner": owner})
        assert response.status_code == 200
        return bool(response.json()["total"] == 3)

    await eventually(all_projected, what="three cases in the register")
    page = (await api.get("frontline", "/v1/cases", params={"owner": owner, "limit": 2})).json()
    assert (page["total"], len(page["items"]), page["limit"]) == (3, 2, 2)
    rest = (
        await api.get("frontline", "/v1/cases", params={"owner": owner, "limit": 2, "offset": 2})
    ).json()
    assert {i["case_id"] for i in page["items"] + rest["items"]} == set(ids)
    phone = (
        await api.get("agent", "/v1/cases", params={"owner": owner, "channel": "phone"})
    ).json()
    assert phone["total"] == 2
    assert {i["stage"] for i in phone["items"]} == {"investigating"}
    none = await api.get(
        "agent", "/v1/cases", params={"owner": owner, "kind": "inquiry", "breached": "true"}
    )
    assert none.json()["total"] == 0
    later = (datetime.now().astimezone() + timedelta(hours=1)).isoformat()
    future = await api.get("agent", "/v1/cases", params={"owner": owner, "opened_from": later})
    assert future.json()["total"] == 0
    bad = await api.get("agent", "/v1/cases", params={"limit": 0, "colour": "red"})
    assert bad.status_code == 422


async def test_stuck_case_queries_for_supervisors(api: ApiStack) -> None:
    # Urgent inquiries run on seconds-long clocks in this test's policy.
    late = await opened(api, inquiry(priority="urgent"))
    waiting = await opened(api, inquiry(priority="urgent"))
    await act(api, "agent", waiting, "transfer", {"department": "cards", "reason": "limits"})
    fresh = await opened(api, complaint())

    async def found(stuck: str, case_id: str, **params: str) -> bool:
        response = await api.get(
            "supervisor", "/v1/cases", params={"stuck": stuck, "limit": 500, **params}
        )
        assert response.status_code == 200, response.text
        return case_id in [item["case_id"] for item in response.json()["items"]]

    await eventually(lambda: found("breached", late), what="a breached case")
    await eventually(lambda: found("escalated", late), what="an escalated case")
    await eventually(
        lambda: found("department_overdue", waiting, department="cards"),
        what="a case overdue with cards",
    )
    assert not await found("department_overdue", waiting, department="loans")
    await eventually(lambda: found("due_within_hour", fresh), what="a case due within the hour")

    response = await api.get(
        "supervisor", "/v1/cases", params={"stuck": "department_overdue", "department": "cards"}
    )
    body = response.json()
    assert body["query"] == DEPARTMENT_OVERDUE.format(department="cards")
    stages = {i["case_id"]: i["stage"] for i in body["items"]}
    assert stages[waiting] == "awaiting_department_plan"
    state = (await api.get("agent", f"/v1/cases/{late}")).json()
    assert state["breached"]
    assert state["clocks"]["first_response"]["status"] == "breached"

    missing = await api.get("supervisor", "/v1/cases", params={"stuck": "department_overdue"})
    assert missing.status_code == 422
    mixed = await api.get(
        "supervisor", "/v1/cases", params={"stuck": "breached", "kind": "inquiry"}
    )
    assert mixed.status_code == 422
    assert (await api.get("supervisor", "/v1/cases", params={"stuck": "lost"})).status_code == 422
    assert {s.value for s in Stuck} == {
        "breached",
        "department_overdue",
        "due_within_hour",
        "escalated",
    }


# --- the Web UI's codec endpoint -----------------------------------------------------------


async def test_supervisors_decode_case_history_through_the_codec(api: ApiStack) -> None:
    case_id = await opened(api, complaint())
    handle = api.client.get_workflow_handle(case_workflow_id(case_id))
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    # What Temporal stores: ciphertext, no customer name in it.
    assert "王小明".encode() not in started.input.SerializeToString()
    body = json_format.MessageToDict(started.input)
    response = await api.post("supervisor", "/codec/decode", body)
    assert response.status_code == 200, response.text
    decoded = json_format.Parse(response.text, Payloads())
    assert "王小明" in decoded.payloads[0].data.decode()
    assert (await api.post("agent", "/codec/decode", body)).status_code == 403

    origin = api.settings.codec_cors_origins.split(",")[0].strip()
    preflight = await api.http.options(
        "/codec/decode",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"content-type", "x-namespace", "authorization"} <= {
        h.strip() for h in allowed.split(",")
    }
