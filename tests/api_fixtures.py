"""The API as production runs it, for tests: uvicorn on a real socket, the real worker
on a fresh task queue, the shared dev server, and the register on each database."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from codec.converter import connect_client
from codec.keys import generate_dev_key
from settings.app import Settings
from store.db import dispose_engine
from store.migrate import upgrade_to_head
from tests.db_fixtures import DATABASES, empty_register, environment, sqlite_url
from worker import build_worker

# label -> (role, user, department); every token is random per test run.
CALLERS: dict[str, tuple[str, str, str | None]] = {
    "frontline": ("frontline", "counter-terminal-07", None),
    "agent": ("agent", "li.na", None),
    "agent2": ("agent", "chen.jie", None),
    "supervisor": ("supervisor", "wang.fang", None),
    "cards": ("department", "cards-desk", "cards"),
    "loans": ("department", "loans-desk", "loans"),
}

# Urgent inquiries get seconds-long clocks, so breaches, escalations and the stuck
# queries can be seen within a test; every other case keeps the plan's figures.
FAST_OVERRIDE = """

[[overrides]]
kind = "inquiry"
priority = "urgent"
clocks = { first_response = "PT2S", department_plan = "PT2S" }
escalation = { interval = "PT1S" }
"""

EXTRA_CHANNEL = "wechat"


@dataclass
class ApiStack:
    """A running API and how to call it as each kind of caller."""

    base_url: str
    http: httpx.AsyncClient
    client: Client
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def user(self, who: str) -> str:
        return CALLERS[who][1]

    async def get(self, who: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(who), **kwargs)

    async def post(
        self, who: str, path: str, body: Any = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = self.auth(who)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(path, json=body, headers=headers)


def write_tokens(path: Path) -> dict[str, str]:
    tokens = {label: f"test-{label}-{uuid.uuid4().hex}" for label in CALLERS}
    lines: list[str] = []
    for label, (role, user, department) in CALLERS.items():
        lines += [f'[tokens."{tokens[label]}"]', f'role = "{role}"', f'user = "{user}"']
        if department is not None:
            lines.append(f'department = "{department}"')
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return tokens


# A small history budget, so a long case continues as new within a test.
HISTORY_BUDGET = 600


def write_policy(path: Path) -> None:
    default = resources.files("policy").joinpath("default.toml").read_text(encoding="utf-8")
    default = default.replace("history_budget = 10000", f"history_budget = {HISTORY_BUDGET}")
    path.write_text(default + FAST_OVERRIDE, encoding="utf-8")


@dataclass
class RunningServer:
    base_url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(app: FastAPI) -> RunningServer:
    """uvicorn on a socket bound to a free port (never 8000, 7233 or 8233)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_level="warning", ws="none", http="h11", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise why
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    return RunningServer(f"http://127.0.0.1:{port}", server, task)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ApiConfig:
    settings: Settings
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=DATABASES)
def api_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The register for one module's worth of API tests, on each database.

    ``database_url`` empties the register for every test; the API tests share one
    stack (server, worker) per database instead, and keep apart by their own IDs.
    """
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("api-register") / "cases.db")
        upgrade_to_head(url)
        try:
            yield url
        finally:
            dispose_engine(url)
        return
    url = request.getfixturevalue("postgres_database_url")
    empty_register(url)
    yield url


@pytest.fixture(scope="module")
def api_env(api_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiConfig]:
    """Settings for one database variant, also put in the environment.

    The activities read ``get_settings()`` (the worker process's environment), so the
    register they write and the policy they resolve must be this variant's too.
    """
    base = tmp_path_factory.mktemp("api")
    tokens_file, policy_file = base / "tokens.toml", base / "policy.toml"
    tokens = write_tokens(tokens_file)
    write_policy(policy_file)
    env = {
        "CASE_ENVIRONMENT": "test",
        "DATABASE_URL": api_database_url,
        "CASE_TASK_QUEUE": f"api-test-{uuid.uuid4()}",
        "CASE_API_TOKENS_FILE": str(tokens_file),
        "CASE_POLICY_FILE": str(policy_file),
        "CASE_CODEC_KEYS": generate_dev_key(),
        "CASE_EXTRA_CHANNELS": EXTRA_CHANNEL,
    }
    with environment(**env):
        yield ApiConfig(Settings(), tokens)


@pytest.fixture(scope="module")
async def api(api_env: ApiConfig, dev_env: WorkflowEnvironment) -> AsyncIterator[ApiStack]:
    """The API and a worker for one database variant, on the session's dev server.

    The client has the encrypting converter, as in production: the worker and the API
    share it, and the codec endpoint has real ciphertext to decode.
    """
    settings = api_env.settings
    client = await connect_client(
        settings,
        target_host=dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
    )
    async with build_worker(client, settings):
        running = await serve(create_app(settings, client))
        try:
            async with httpx.AsyncClient(base_url=running.base_url, timeout=40) as http:
                yield ApiStack(running.base_url, http, client, settings, api_env.tokens)
        finally:
            await running.stop()
