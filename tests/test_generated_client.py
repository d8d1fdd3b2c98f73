"""A Python client generated from the served schema reads like the README and works.

``openapi-python-client`` (pinned in the dev dependencies) generates a client from the
API's own ``/openapi.json`` on a real socket; the test imports it and walks a complaint
from intake to close with it, then gets the documented error type back on a 409 and a
422. The generated code is imported at run time, so it is typed ``Any`` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.db import dispose_engine
from store.migrate import upgrade_to_head
from tests.api_fixtures import ApiStack
from tests.db_fixtures import sqlite_url

PACKAGE = "case_engine_client"


@pytest.fixture(scope="module")
def api_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite only: the client depends on the schema, not on the register's database."""
    url = sqlite_url(tmp_path_factory.mktemp("client-register") / "cases.db")
    upgrade_to_head(url)
    try:
        yield url
    finally:
        dispose_engine(url)


async def generate_client(api: ApiStack, into: Path) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    (into / "openapi.json").write_text(json.dumps(schema), encoding="utf-8")
    (into / "config.yml").write_text(
        f"project_name_override: case-engine-client\npackage_name_override: {PACKAGE}\n",
        encoding="utf-8",
    )
    bin_dir = Path(sys.executable).parent
    process = await asyncio.create_subprocess_exec(
        str(bin_dir / "openapi-python-client"),
        "generate",
        "--path",
        "openapi.json",
        "--config",
        "config.yml",
        "--meta",
        "none",
        "--output-path",
        PACKAGE,
        cwd=into,
        # Its post-generation hooks run ruff, from this environment.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode(errors="replace")


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_walks_a_complaint_and_gets_typed_errors(
    api: ApiStack, generated: Path
) -> None:
    await generate_client(api, generated)
    client_module = importlib.import_module(PACKAGE)
    models = module("models")
    cases = {
        name: module(f"api.cases.{name}")
        for name in (
            "open_case",
            "acknowledge_case",
            "assign_owner",
            "record_investigation",
            "propose_remedy",
            "decide_remedy",
            "send_final_reply",
            "close_case",
            "read_case",
        )
    }

    async with contextlib.AsyncExitStack() as stack:

        async def caller(who: str) -> Any:
            client = client_module.AuthenticatedClient(
                base_url=api.base_url, token=api.tokens[who], raise_on_unexpected_status=True
            )
            return await stack.enter_async_context(client)

        await walk(models, cases, *[await caller(w) for w in ("frontline", "agent", "supervisor")])


async def walk(
    models: Any, cases: dict[str, Any], frontline: Any, agent: Any, supervisor: Any
) -> None:
    """Intake to close as the README's curl walk does it, then a 409 and a 422."""
    intake = models.CaseCreate(
        kind=models.CaseKind.COMPLAINT,
        channel=models.CaseCreateChannel.PHONE,
        customer=models.Customer(id="CUST-4471", name="赵敏", phone="+86 139 0000 1111"),
        category="card_fees",
        description="A duplicate annual fee on my card",
    )
    opened = await cases["open_case"].asyncio_detailed(client=frontline, body=intake)
    assert opened.status_code == 201, opened.content
    case = opened.parsed
    assert isinstance(case, models.CasePublic)
    case_id = case.case_id

    async def act(name: str, who: Any, body: Any, **path: str) -> Any:
        answer = await cases[name].asyncio_detailed(case_id=case_id, client=who, body=body, **path)
        assert answer.status_code == 200, (name, answer.content)
        assert isinstance(answer.parsed, models.CasePublic), name
        return answer.parsed

    await act("acknowledge_case", agent, models.AcknowledgeBody(note="called back"))
    await act("assign_owner", agent, models.AssignOwnerBody(owner="li.na"))
    await act(
        "record_investigation",
        agent,
        models.RecordInvestigationBody(findings="the billing batch ran twice"),
    )
    proposed = await act(
        "propose_remedy",
        agent,
        models.ProposeRemedyBody(
            kind=models.RemedyKind.COMPENSATION, description="Goodwill payment", amount="800.00"
        ),
    )
    remedy_id = proposed.remedies[0].remedy_id
    assert proposed.remedies[0].status == models.RemedyStatus.PENDING_APPROVAL
    approved = await act(
        "decide_remedy", supervisor, models.DecideRemedyBody(approve=True), remedy_id=remedy_id
    )
    assert approved.remedies[0].status == models.RemedyStatus.APPROVED
    await act(
        "send_final_reply",
        agent,
        models.SendFinalReplyBody(reply="We reversed the fee and added a goodwill payment."),
    )
    closed = await act("close_case", agent, models.CloseBody())
    assert closed.stage == models.Stage.CLOSED

    read = await cases["read_case"].asyncio(case_id=case_id, client=supervisor)
    assert isinstance(read, models.CasePublic)
    assert read.stage == models.Stage.CLOSED

    # 409: a closed case refuses a first response; the answer is the documented ApiError.
    refused = await cases["acknowledge_case"].asyncio_detailed(
        case_id=case_id, client=agent, body=models.AcknowledgeBody()
    )
    assert refused.status_code == 409
    assert isinstance(refused.parsed, models.ApiError)
    assert isinstance(refused.parsed.detail, str)
    assert refused.parsed.detail

    # 422: an empty description; the ApiError names the field.
    empty = models.CaseCreate.from_dict({**intake.to_dict(), "description": ""})
    invalid = await cases["open_case"].asyncio_detailed(client=frontline, body=empty)
    assert invalid.status_code == 422
    assert isinstance(invalid.parsed, models.ApiError)
    assert isinstance(invalid.parsed.detail, list)
    assert [e.loc for e in invalid.parsed.detail] == [["body", "description"]]
    assert all(isinstance(e, models.FieldError) for e in invalid.parsed.detail)
