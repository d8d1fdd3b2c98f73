"""A complaint under the NFRA preset through the real stack (API on a socket, worker,
dev server, SQLite and PostgreSQL): both clocks at intake, the regulator's extensions
with their approver, the final reply refused without its JR/T 0169-2018 codes (422
naming the field) and accepted with them, and the month's return counting it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from codec.keys import generate_dev_key
from settings.app import Settings
from tests.api_fixtures import ApiConfig, ApiStack, write_tokens
from tests.db_fixtures import environment
from tests.test_api import act, complaint, opened


@pytest.fixture(scope="module")
def api_env(api_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiConfig]:
    """The API stack's settings with the NFRA preset as the deadline policy."""
    base = tmp_path_factory.mktemp("api-nfra")
    tokens_file = base / "tokens.toml"
    tokens = write_tokens(tokens_file)
    preset = resources.files("policy").joinpath("presets", "cn-nfra.toml")
    env = {
        "CASE_ENVIRONMENT": "test",
        "DATABASE_URL": api_database_url,
        "CASE_TASK_QUEUE": f"api-nfra-{uuid.uuid4()}",
        "CASE_API_TOKENS_FILE": str(tokens_file),
        "CASE_POLICY_FILE": str(preset),
        "CASE_CODEC_KEYS": generate_dev_key(),
    }
    with environment(**env):
        yield ApiConfig(Settings(), tokens)


def detail(response: Any) -> str:
    return str(response.json())


async def test_a_complaint_under_nfra_from_intake_to_its_return(api: ApiStack) -> None:
    case_id = await opened(api, complaint())
    case = (await api.get("supervisor", f"/v1/cases/{case_id}")).json()
    clocks = case["clocks"]
    opened_at = datetime.fromisoformat(case["opened_at"])
    # The regulator's 15 days beside the bank's 7 working days.
    assert datetime.fromisoformat(clocks["regulator_reply"]["deadline"]) == opened_at + timedelta(
        days=15
    )
    assert clocks["final_reply"]["status"] == "running"
    assert case["regulatory"]["profile"] == "cn-nfra"
    assert [b["name"] for b in case["regulatory"]["bands"]] == [
        "within_15_days",
        "within_30_days",
        "within_60_days",
    ]

    await act(api, "agent", case_id, "acknowledge", {})
    await act(api, "agent", case_id, "assign", {"owner": "li.na"})
    await act(api, "agent", case_id, "investigation", {"findings": "Waiver not applied."})
    path = "regulator-clock/extend"
    await act(api, "agent", case_id, path, {"extension": "complex", "reason": "x"}, status=403)
    skipped = await api.post(
        "supervisor",
        f"/v1/cases/{case_id}/{path}",
        {"extension": "especially_complex", "reason": "x"},
    )
    assert skipped.status_code == 422
    assert "extension" in detail(skipped)
    done = await act(
        api, "supervisor", case_id, path, {"extension": "complex", "reason": "records"}
    )
    assert done["regulatory"]["extensions"] == ["complex"]
    assert datetime.fromisoformat(
        done["clocks"]["regulator_reply"]["deadline"]
    ) == opened_at + timedelta(days=30)
    unapproved = await api.post(
        "supervisor",
        f"/v1/cases/{case_id}/{path}",
        {"extension": "especially_complex", "reason": "y"},
    )
    assert unapproved.status_code == 422
    assert "approved_by" in detail(unapproved)
    await act(
        api,
        "supervisor",
        case_id,
        path,
        {"extension": "especially_complex", "reason": "arbitration", "approved_by": "chen.jie"},
    )

    reply: dict[str, Any] = {"reply": "The fee has been refunded.", "outcome": "partly_upheld"}
    missing = await api.post("agent", f"/v1/cases/{case_id}/reply", reply)
    assert missing.status_code == 422
    assert "classification.channel" in detail(missing)
    wrong = {**reply, "classification": {"channel": "A9", "business_type": "B3", "reason": "C08"}}
    refused = await api.post("agent", f"/v1/cases/{case_id}/reply", wrong)
    assert refused.status_code == 422
    assert "'A9' is not a code" in detail(refused)
    good = {
        **reply,
        "classification": {"channel": "A10303", "business_type": "B3", "reason": "C08"},
    }
    answered = await act(api, "agent", case_id, "reply", good)
    assert answered["regulatory"]["outcome"] == "partly_upheld"
    assert answered["clocks"]["regulator_reply"]["status"] == "met"
    assert answered["clocks"]["final_reply"]["status"] == "met"

    # The register catches up with the case, then the month's return counts it.
    month = opened_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    for _ in range(100):
        body = (await api.get("supervisor", f"/v1/reports/regulatory/cn-nfra/{month}")).json()
        if body["closed"] >= 1:
            break
        await asyncio.sleep(0.1)
    # Each database's register is fresh for this module: this complaint alone.
    assert body["opened"] == 1
    assert body["closed"] == 1
    assert body["bands"][0] == {"band": "within_15_days", "closed": body["closed"]}
    codes = {(b["axis"], b["code"]): b for b in body["breakdown"]}
    assert codes[("business_type", "B3")]["label_zh"] == "银行卡类"
    assert codes[("business_type", "B3")]["upheld"] == 1
    assert body["outcomes"]["partly_upheld"] == 1
