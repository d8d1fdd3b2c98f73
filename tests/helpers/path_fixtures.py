"""Fixtures of the path tests (a pytest plugin, see ``tests/conftest.py``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from settings.app import Settings, get_settings
from tests.case_harness import EffectLog, case_worker
from tests.conftest import start_workflow_env
from tests.helpers.paths import Desk, PolicyFiles


@pytest.fixture(scope="module")
async def paths_env(
    plain_settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[WorkflowEnvironment]:
    """Each path module's own server: the time-skipping test server unless
    ``--workflow-environment=local`` asks for the dev server.

    The server's clock is one for all its workflows: a case another module leaves
    running after its worker has gone stalls time skipping at that case's next timer.
    Every case here is cleaned up (``Desk.clear``); a server of its own keeps these
    tests independent of whether other modules do the same.
    """
    env = await start_workflow_env(request, plain_settings)
    async with env:
        yield env


@pytest.fixture
async def desk(paths_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Desk]:
    log = EffectLog()
    async with case_worker(paths_env.client, task_queue, log):
        desk = Desk(paths_env, task_queue, log)
        try:
            yield desk
        finally:
            await desk.clear()


@pytest.fixture
def policy_files(tmp_path: Path) -> Iterator[PolicyFiles]:
    saved = os.environ.get("CASE_POLICY_FILE")
    files = PolicyFiles(tmp_path)
    try:
        yield files
    finally:
        if saved is None:
            os.environ.pop("CASE_POLICY_FILE", None)
        else:
            os.environ["CASE_POLICY_FILE"] = saved
        get_settings.cache_clear()
