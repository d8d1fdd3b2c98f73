"""Suggestions, improvement actions, training and the agent's assessment over HTTP, on
the real stack (the API on a socket, the real worker, the dev server with the search
attributes, the register on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api_fixtures import ApiStack
from tests.report_seed import Seed, SeedCase, SeedClock, write_seed

ZONE = ZoneInfo("Asia/Shanghai")


def action_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Phone card cases answered within five minutes",
        "owner": "li.na",
        "due": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "target": {
            "measure": "on_time_share",
            "clock": "first_response",
            "category": "cards",
            "channel": "phone",
            "at_least": 0.95,
        },
    }
    return {**body, **changes}


def loc(response: Any) -> list[Any]:
    return [d["loc"] for d in response.json()["detail"]]


async def test_suggestions_become_actions_or_are_declined(api: ApiStack) -> None:
    made = await api.post(
        "agent",
        "/v1/suggestions",
        {"title": "Callback slots", "text": "Offer callback slots at noon"},
    )
    assert made.status_code == 201, made.text
    first = made.json()
    assert (first["author"], first["status"]) == (api.user("agent"), "open")
    assert (
        await api.post("frontline", "/v1/suggestions", {"title": "x", "text": "y"})
    ).status_code == 403
    other = (
        await api.post(
            "cards", "/v1/suggestions", {"title": "Fee FAQ", "text": "Publish a fee FAQ"}
        )
    ).json()

    blank = await api.post("supervisor", f"/v1/suggestions/{other['suggestion_id']}/decline", {})
    assert blank.status_code == 422
    assert ["body", "reason"] in loc(blank)
    declined = await api.post(
        "supervisor",
        f"/v1/suggestions/{other['suggestion_id']}/decline",
        {"reason": "The FAQ exists already"},
    )
    assert declined.status_code == 200
    assert (declined.json()["status"], declined.json()["reason"]) == (
        "declined",
        "The FAQ exists already",
    )
    again = await api.post(
        "supervisor", f"/v1/suggestions/{other['suggestion_id']}/decline", {"reason": "twice"}
    )
    assert again.status_code == 409

    # An action that cannot start leaves the suggestion waiting.
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    refused = await api.post(
        "supervisor", f"/v1/suggestions/{first['suggestion_id']}/accept", action_body(due=past)
    )
    assert refused.status_code == 422
    assert ["body", "due"] in loc(refused)
    waiting = (await api.get("supervisor", "/v1/suggestions?status=open")).json()
    assert first["suggestion_id"] in {s["suggestion_id"] for s in waiting}

    accepted = await api.post(
        "supervisor", f"/v1/suggestions/{first['suggestion_id']}/accept", action_body()
    )
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["suggestion"]["status"] == "accepted"
    action = body["action"]
    assert body["suggestion"]["action_id"] == action["action_id"]
    assert (action["source"], action["source_ref"]) == ("suggestion", first["suggestion_id"])
    assert action["owner"] == "li.na"
    listed = (await api.get("supervisor", "/v1/suggestions")).json()
    assert {first["suggestion_id"], other["suggestion_id"]} <= {s["suggestion_id"] for s in listed}
    assert (await api.get("agent", "/v1/suggestions")).status_code == 403


async def _projected(api: ApiStack, action_id: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            response = await api.get("supervisor", f"/v1/improvement-actions/{action_id}")
            if response.status_code == 200:
                result: dict[str, Any] = response.json()
                return result
            await asyncio.sleep(0.1)


async def test_action_refuses_bad_input_and_closes_only_with_an_outcome(api: ApiStack) -> None:
    past = await api.post(
        "supervisor",
        "/v1/improvement-actions",
        action_body(due=(datetime.now(UTC) - timedelta(days=1)).isoformat()),
    )
    assert past.status_code == 422
    assert ["body", "due"] in loc(past)
    no_clock = action_body()
    no_clock["target"] = {**no_clock["target"], "clock": None}
    missing = await api.post("supervisor", "/v1/improvement-actions", no_clock)
    assert missing.status_code == 422
    assert ["body", "target", "clock"] in loc(missing)
    unsourced = await api.post(
        "supervisor", "/v1/improvement-actions", action_body(source="finding")
    )
    assert ["body", "source_ref"] in loc(unsourced)
    assert (await api.post("agent", "/v1/improvement-actions", action_body())).status_code == 403

    created = await api.post(
        "supervisor",
        "/v1/improvement-actions",
        action_body(
            source="finding",
            source_ref="monthly/2026-11/f-0123456789ab",
            training={"topic": "Card fee disputes", "categories": ["cards"]},
            policy_proposal={
                "file": "policy/default.toml",
                "change": '[[overrides]]\ncategory = "cards"',
                "rationale": "Card calls peak at noon",
            },
        ),
    )
    assert created.status_code == 201, created.text
    action_id = created.json()["action_id"]
    await _projected(api, action_id)

    # The training the action asked for, recorded and linked.
    training = {
        "topic": "Card fee disputes",
        "held_on": "2026-11-20",
        "trainer": "wang.fang",
        "attendees": ["li.na", "chen.jie"],
        "categories": ["cards"],
        "material_url": "https://intranet.example/training/card-fees",
        "action_id": action_id,
    }
    bad_url = await api.post("supervisor", "/v1/trainings", {**training, "material_url": "nope"})
    assert ["body", "material_url"] in loc(bad_url)
    unknown = await api.post(
        "supervisor", "/v1/trainings", {**training, "action_id": "action-none"}
    )
    assert ["body", "action_id"] in loc(unknown)
    recorded = await api.post("supervisor", "/v1/trainings", training)
    assert recorded.status_code == 201, recorded.text
    training_id = recorded.json()["training_id"]
    assert recorded.json()["attendees"] == ["chen.jie", "li.na"]
    read = (await api.get("agent", f"/v1/improvement-actions/{action_id}")).json()  # the owner
    assert read["training_ids"] == [training_id]
    assert read["policy_proposal"]["file"] == "policy/default.toml"
    proposals = await api.get("supervisor", "/v1/improvement-actions/policy-proposals")
    mine = [p for p in proposals.json() if p["action_id"] == action_id]
    assert [p["proposal"]["file"] for p in mine] == ["policy/default.toml"]
    assert mine[0]["proposed_by"] == api.user("supervisor")
    assert (await api.get("agent2", f"/v1/improvement-actions/{action_id}")).status_code == 403

    path = f"/v1/improvement-actions/{action_id}/close"
    refused = await api.post("agent", path, {})
    assert refused.status_code == 422
    assert ["body", "outcome"] in loc(refused)
    assert "outcome" in refused.json()["detail"][0]["msg"]
    assert (await api.post("agent2", path, {"outcome": "not mine"})).status_code == 403
    closed = await api.post("agent", path, {"outcome": "Noon shift added"}, key="close-1")
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["outcome"]) == ("closed", "Noon shift added")
    late = await api.post("agent", f"/v1/improvement-actions/{action_id}/notes", {"text": "more"})
    assert late.status_code == 409


async def test_overdue_actions_are_listed_from_visibility(api: ApiStack) -> None:
    due = datetime.now(UTC) + timedelta(seconds=2)
    created = await api.post(
        "supervisor", "/v1/improvement-actions", action_body(due=due.isoformat())
    )
    assert created.status_code == 201, created.text
    action_id = created.json()["action_id"]
    found: list[str] = []
    async with asyncio.timeout(30):
        while action_id not in found:
            await asyncio.sleep(0.5)
            listed = await api.get("supervisor", "/v1/improvement-actions?overdue=true")
            assert listed.status_code == 200
            found = [a["action_id"] for a in listed.json()["items"]]
    body = listed.json()
    assert "ImprovementOverdue = true" in body["query"]
    assert next(a for a in body["items"] if a["action_id"] == action_id)["status"] == "overdue"


async def test_agent_reads_only_their_own_assessment(api: ApiStack) -> None:
    suffix = uuid.uuid4().hex[:6]
    start = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    cases = []
    for n in range(6):
        opened = start + timedelta(days=n)
        on_time = n % 3 != 0
        met = opened + timedelta(minutes=2 if on_time else 7)
        clock = SeedClock(
            "first_response",
            "met" if on_time else "breached",
            opened,
            opened + timedelta(minutes=5),
            met_at=met,
            breached_at=None if on_time else opened + timedelta(minutes=5),
        )
        case = SeedCase(
            f"a-{suffix}-{n}", "inquiry", "phone", "cards", None, None, "c-1", opened, [clock]
        )
        case.owner = "chen.jie"
        cases.append(case)
    write_seed(api.settings.database_url, Seed(cases, [], []))

    path = "/v1/agents/chen.jie/assessment?quarter=2026-Q3"
    own = await api.get("agent2", path)
    assert own.status_code == 200, own.text
    mine = own.json()["agent"]
    assert mine["cases"] >= 6
    assert (await api.get("agent", path)).status_code == 403
    assert (await api.get("cards", path)).status_code == 403
    assert (await api.get("supervisor", path)).json()["agent"] == mine
    bad = await api.get("supervisor", "/v1/agents/chen.jie/assessment?quarter=2026-Q5")
    assert bad.status_code == 422
    assert ["query", "quarter"] in loc(bad)
    nobody = await api.get("supervisor", "/v1/agents/nobody/assessment?quarter=2026-Q3")
    assert nobody.status_code == 404
