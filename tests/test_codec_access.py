"""Who may decode personal data through the API's codec endpoint.

Supervisors by token everywhere; in development only, the dev stack's Web UI (which
has no single sign-on to get a token from) may call it token-less from its origin.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from codec.keys import generate_dev_key
from settings import Settings
from tests.api_fixtures import serve, write_tokens
from tests.db_fixtures import sqlite_url

UI_ORIGIN = "http://localhost:8233"
BODY = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IkEi"}]}


@pytest.mark.parametrize(
    ("environment", "token", "origin", "status"),
    [
        ("development", None, UI_ORIGIN, 200),  # the dev Web UI
        ("development", None, "http://elsewhere.example", 401),
        ("development", None, None, 401),
        ("development", "agent", UI_ORIGIN, 403),
        ("development", "supervisor", None, 200),
        ("test", None, UI_ORIGIN, 401),
        ("test", "supervisor", UI_ORIGIN, 200),
        ("test", "frontline", None, 403),
    ],
)
async def test_codec_decode_access(
    dev_env: WorkflowEnvironment,
    tmp_path: Path,
    environment: str,
    token: str | None,
    origin: str | None,
    status: int,
) -> None:
    tokens = write_tokens(tmp_path / "tokens.toml")
    settings = Settings(
        CASE_ENVIRONMENT=environment,
        DATABASE_URL=sqlite_url(tmp_path / "cases.db"),
        CASE_API_TOKENS_FILE=tmp_path / "tokens.toml",
        CASE_CODEC_KEYS=generate_dev_key(),
        CASE_CODEC_CORS_ORIGINS=UI_ORIGIN,
    )
    server = await serve(create_app(settings, client=dev_env.client))
    try:
        headers = {"x-namespace": "default"}
        if token is not None:
            headers["Authorization"] = f"Bearer {tokens[token]}"
        if origin is not None:
            headers["Origin"] = origin
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            response = await http.post("/codec/decode", json=BODY, headers=headers)
        assert response.status_code == status, response.text
        if status == 200:
            assert response.json()["payloads"][0]["data"] == BODY["payloads"][0]["data"]
    finally:
        await server.stop()
