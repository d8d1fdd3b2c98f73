"""Configuration refused at start: the worker and the API, run as the launcher runs
them (subprocesses), exit naming the file and the key when a file they need is
broken; the checks name every kind of file; ``/readyz`` answers 503 with the reason
while a file is broken after start, and 200 again once it is fixed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.token_check import tokens_problem as api_tokens_check
from preflight.check import ConfigurationError, check_configuration, configuration_problems
from settings.app import Settings
from tests.api_fixtures import free_port, serve, write_tokens
from tests.db_fixtures import sqlite_url

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
BAD_KEY = "clocks.first_response"


def default_policy() -> str:
    return resources.files("policy").joinpath("default.toml").read_text(encoding="utf-8")


def broken_policy(path: Path) -> Path:
    """The shipped policy with the first response written in words, not ISO 8601."""
    text = default_policy()
    good = 'first_response = "PT5M"'
    assert good in text
    path.write_text(text.replace(good, 'first_response = "five minutes"', 1), encoding="utf-8")
    return path


def settings_for(tmp_path: Path, **values: str | None) -> Settings:
    base: dict[str, Any] = {
        "CASE_ENVIRONMENT": "test",
        "DATABASE_URL": sqlite_url(tmp_path / "cases.db"),
        "CASE_CODEC_KEYS": None,
    }
    return Settings.model_validate({**base, **values})


def child_env(tmp_path: Path, policy: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CASE_", "TEMPORAL_", "DATABASE"))
    }
    env.update(
        CASE_ENVIRONMENT="test",
        CASE_POLICY_FILE=str(policy),
        DATABASE_URL=sqlite_url(tmp_path / "cases.db"),
        # Nothing listens here: a process that got past its checks would hang, not pass.
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
    )
    return env


def test_worker_and_api_refuse_to_start_naming_the_file_and_key(tmp_path: Path) -> None:
    policy = broken_policy(tmp_path / "policy.toml")
    env = child_env(tmp_path, policy)
    port = free_port()
    commands = {
        "worker": [sys.executable, "worker.py"],
        "api": [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)],
    }
    started = time.monotonic()
    children = {
        name: subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, argv in commands.items()
    }
    results: dict[str, tuple[int, str, float]] = {}
    try:
        for name, child in children.items():
            out, err = child.communicate(timeout=START_TIMEOUT)
            results[name] = (child.returncode, out + err, time.monotonic() - started)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()
    worker_code, worker_output, _ = results["worker"]
    assert worker_code == 2, worker_output
    api_code, api_output, _ = results["api"]
    assert api_code != 0, api_output
    for output in (worker_output, api_output):
        assert "CASE_POLICY_FILE" in output
        assert str(policy) in output
        assert BAD_KEY in output
        assert "five minutes" in output
    assert "Application startup failed" in api_output


def test_every_configured_file_is_checked_and_named(tmp_path: Path) -> None:
    departments = tmp_path / "departments.toml"
    departments.write_text('[departments.cards]\nwebhook = "https://x.example"\n', "utf-8")
    tokens = tmp_path / "tokens.toml"
    secret = "a-secret-token-0123456789"
    tokens.write_text(f'[tokens."{secret}"]\nrole = "janitor"\nuser = "x"\n', "utf-8")
    settings = settings_for(
        tmp_path,
        CASE_POLICY_FILE=str(broken_policy(tmp_path / "policy.toml")),
        CASE_DEPARTMENTS_FILE=str(departments),
        CASE_API_TOKENS_FILE=str(tokens),
        CASE_CODEC_KEYS="k1:not-base64!",
    )
    problems = configuration_problems(settings, tokens=api_tokens_check)
    assert len(problems) == 4, problems
    policy_problem, departments_problem, codec_problem, tokens_problem = problems
    assert policy_problem.startswith("CASE_POLICY_FILE: ")
    assert BAD_KEY in policy_problem
    assert departments_problem.startswith("CASE_DEPARTMENTS_FILE: ")
    assert str(departments.resolve()) in departments_problem
    assert "departments.cards.webhook: unknown key" in departments_problem
    assert codec_problem.startswith("CASE_CODEC_KEYS: ")
    assert "'k1'" in codec_problem
    assert tokens_problem.startswith("CASE_API_TOKENS_FILE: ")
    assert "tokens.<token #1>.role" in tokens_problem
    assert secret not in tokens_problem
    # The worker does not read the tokens file, so it does not refuse for it.
    assert len(configuration_problems(settings)) == 3

    missing = settings_for(tmp_path, CASE_POLICY_FILE=str(tmp_path / "nowhere.toml"))
    [problem] = configuration_problems(missing, tokens=api_tokens_check)
    assert "nowhere.toml: cannot be read" in problem
    with pytest.raises(ConfigurationError, match=r"^refusing to start: CASE_POLICY_FILE: "):
        check_configuration(missing, tokens=api_tokens_check)

    assert configuration_problems(settings_for(tmp_path), tokens=api_tokens_check) == []


def test_the_reports_file_is_checked_naming_the_key(tmp_path: Path) -> None:
    text = resources.files("policy").joinpath("reports.toml").read_text(encoding="utf-8")
    broken = tmp_path / "reports.toml"
    broken.write_text(text.replace("agent_min_cases = 5", "agent_min_cases = 0"), "utf-8")
    [problem] = configuration_problems(settings_for(tmp_path, CASE_REPORTS_FILE=str(broken)))
    assert problem.startswith(f"CASE_REPORTS_FILE: {broken}: ")
    assert "people.agent_min_cases" in problem


async def test_readyz_reports_a_file_broken_after_start(
    tmp_path: Path, dev_env: WorkflowEnvironment
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(default_policy(), encoding="utf-8")
    tokens = tmp_path / "tokens.toml"
    write_tokens(tokens)
    settings = settings_for(
        tmp_path, CASE_POLICY_FILE=str(policy), CASE_API_TOKENS_FILE=str(tokens)
    )
    running = await serve(create_app(settings, dev_env.client))
    try:
        async with httpx.AsyncClient(base_url=running.base_url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["configuration"] == "ok"

            broken_policy(policy)
            broken = await http.get("/readyz")
            assert broken.status_code == 503, broken.text
            body = broken.json()
            assert body["status"] == "unavailable"
            reason = body["checks"]["configuration"]
            assert reason.startswith("failed: CASE_POLICY_FILE: ")
            assert str(policy.resolve()) in reason
            assert BAD_KEY in reason
            assert body["checks"]["temporal"] == "ok"
            # Still serving: liveness is not readiness.
            assert (await http.get("/healthz")).status_code == 200

            await asyncio.sleep(0.01)  # a new modification time, whatever the clock's grain
            policy.write_text(default_policy(), encoding="utf-8")
            fixed = await http.get("/readyz")
            assert fixed.status_code == 200, fixed.text
    finally:
        await running.stop()
