"""``make run``: the one-command stack starts the real dev server, worker and API, opens
a case end to end, restarts a worker that is killed, and stops every child on Ctrl-C,
when the dev server dies, or when a child keeps dying."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from contracts.search_attributes import CASE_KIND
from stack.banner import banner
from stack.processes import (
    free_port,
    port_in_use,
    spawn,
    stop_children,
    venv_executable,
    wait_for_port,
)
from stack.run import READY_LINE, StackError, config_from_env
from stack.supervisor import RestartPolicy, Supervisor
from stack.tokens import ensure_dev_codec_key, ensure_dev_tokens, load_tokens

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0
# Variables that would point the stack at something other than its own fresh pieces.
_FOREIGN_VARS = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_API_KEY",
    "DATABASE_URL",
    "CASE_API_TOKENS_FILE",
    "CASE_CODEC_KEYS",
    "CASE_POLICY_FILE",
    "CASE_DEPARTMENTS_FILE",
    "CASE_CODEC_CORS_ORIGINS",
)


@dataclass
class RunningStack:
    """``python -m stack.run`` as a user starts it, its output collected line by line."""

    process: subprocess.Popen[str]
    data_dir: Path
    api_port: int
    temporal_port: int
    ui_port: int
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def start_reading(self) -> None:
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read() -> None:
            for line in stdout:
                self.lines.append(line.rstrip("\n"))

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    async def wait_for_line(self, pattern: str, within: float) -> re.Match[str]:
        deadline = time.monotonic() + within
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            if self.process.poll() is not None:
                await asyncio.sleep(0.2)  # let the reader drain the last lines
                pytest.fail(f"stack.run exited ({self.process.returncode}):\n{self.output}")
            await asyncio.sleep(0.1)
        pytest.fail(f"no line matching {pattern!r} within {within:.0f} s:\n{self.output}")

    async def wait_ready(self) -> None:
        await self.wait_for_line(re.escape(READY_LINE), READY_TIMEOUT)
        await self.wait_for_line(r"Press Ctrl-C to stop", 5.0)

    def token(self, label: str) -> str:
        pattern = re.compile(rf"^\s+{re.escape(label)}\s+(\S+)$")
        for line in self.lines:
            match = pattern.match(line)
            if match:
                return match.group(1)
        raise AssertionError(f"no printed token for {label}:\n{self.output}")

    def child_pids(self) -> dict[str, int]:
        for line in self.lines:
            if "Processes:" in line:
                return {name: int(pid) for name, pid in re.findall(r"([\w-]+) pid (\d+)", line)}
        raise AssertionError(f"no Processes line:\n{self.output}")

    def wait_exit(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        if self.reader is not None:
            self.reader.join(timeout=5)
        return code

    def ports(self) -> list[int]:
        return [self.api_port, self.temporal_port, self.ui_port]


def _stack_env(data_dir: Path, api_port: int, temporal_port: int, ui_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_VARS}
    env.update(
        CASE_DATA_DIR=str(data_dir),
        CASE_API_HOST="127.0.0.1",
        CASE_API_PORT=str(api_port),
        CASE_TEMPORAL_PORT=str(temporal_port),
        CASE_TEMPORAL_UI_PORT=str(ui_port),
        # One worker: its metrics port must not be the default another stack may hold.
        CASE_WORKER_METRICS_PORT=str(_metrics_port({api_port, temporal_port, ui_port})),
        CASE_ENVIRONMENT="development",
        PYTHONUNBUFFERED="1",
    )
    return env


def _metrics_port(taken: set[int]) -> int:
    port = free_port()
    while port in taken:
        port = free_port()
    return port


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _launch(data_dir: Path, **extra_env: str) -> RunningStack:
    api_port, temporal_port, ui_port = _distinct_free_ports(3)
    process = subprocess.Popen(
        [sys.executable, "-m", "stack.run"],
        cwd=REPO_ROOT,
        env={**_stack_env(data_dir, api_port, temporal_port, ui_port), **extra_env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningStack(
        process=process,
        data_dir=data_dir,
        api_port=api_port,
        temporal_port=temporal_port,
        ui_port=ui_port,
    )
    running.start_reading()
    return running


def _shut(running: RunningStack) -> None:
    """Whatever happened in the test, leave no process behind."""
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
        try:
            running.wait_exit(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.wait_exit(10)
    if running.process.stdout is not None:
        running.process.stdout.close()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[RunningStack]:
    running = _launch(tmp_path / "data")
    try:
        await running.wait_ready()
        yield running
    finally:
        _shut(running)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _assert_all_stopped(
    running: RunningStack,
    pids: dict[str, int],
    names: tuple[str, ...] = ("temporal", "worker-1", "api"),
) -> None:
    assert set(pids) == set(names), running.output
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(pid) for pid in pids.values()):
        time.sleep(0.2)
    assert {name: _gone(pid) for name, pid in pids.items()} == dict.fromkeys(pids, True)
    ports = running.ports() if "temporal" in names else [running.api_port]
    assert [port for port in ports if port_in_use("127.0.0.1", port)] == []


async def _open_case(running: RunningStack) -> str:
    async with httpx.AsyncClient(base_url=running.api_url, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        opened = await http.post(
            "/v1/cases",
            json=COMPLAINT,
            headers={"Authorization": f"Bearer {running.token('frontline')}"},
        )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


COMPLAINT = {
    "kind": "complaint",
    "channel": "mobile_banking",
    "customer": {"id": "C-2001", "name": "Wang Fang", "phone": "+86 139 0000 0000"},
    "category": "card_fee",
    "product": "credit_card",
    "description": "Charged an annual fee that was waived.",
}


async def test_make_run_serves_cases_and_stops_everything_on_ctrl_c(
    stack: RunningStack,
) -> None:
    assert f"{stack.api_url}/docs" in stack.output
    assert f"http://127.0.0.1:{stack.ui_port}" in stack.output
    assert "curl -s -X POST" in stack.output
    pids = stack.child_pids()

    case_id = await _open_case(stack)

    # The case is a workflow on the dev server the stack started.
    client = await Client.connect(f"127.0.0.1:{stack.temporal_port}")
    workflow_id = f"case-{case_id}"
    description = await client.get_workflow_handle(workflow_id).describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    assert description.workflow_type == "CaseWorkflow"
    assert description.typed_search_attributes.get(CASE_KIND) == "complaint"
    listed: list[str] = []
    for _ in range(50):  # visibility lags the start slightly
        listed = [wf.id async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if listed:
            break
        await asyncio.sleep(0.2)
    assert listed == [workflow_id]

    # The Web UI shows it: its own HTTP API (what the browser page calls) serves the
    # case's history encrypted, and the page decodes it through the API's codec.
    ui = f"http://127.0.0.1:{stack.ui_port}"
    async with httpx.AsyncClient(timeout=10) as browser:
        history = await browser.get(
            f"{ui}/api/v1/namespaces/default/workflows/{workflow_id}/history"
        )
        assert history.status_code == 200, history.text
        started = history.json()["history"]["events"][0]["workflowExecutionStartedEventAttributes"]
        payloads = started["input"]["payloads"]
        customer = str(COMPLAINT["customer"]["name"])  # type: ignore[index]
        assert customer not in json.dumps(payloads)
        decoded = await browser.post(
            f"{stack.api_url}/codec/decode",
            json={"payloads": payloads},
            headers={"Origin": ui, "x-namespace": "default", "content-type": "application/json"},
        )
        assert decoded.status_code == 200, decoded.text
        clear = base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
        assert customer in clear

    stack.process.send_signal(signal.SIGINT)
    assert stack.wait_exit(STOP_TIMEOUT) == 0, stack.output
    assert "Stopped." in stack.output
    _assert_all_stopped(stack, pids)


async def test_a_killed_worker_is_restarted_and_a_dead_dev_server_stops_the_stack(
    stack: RunningStack,
) -> None:
    pids = stack.child_pids()
    case_id = await _open_case(stack)

    os.kill(pids["worker-1"], signal.SIGKILL)
    killed_at = time.monotonic()
    await stack.wait_for_line(r"worker-1 was killed by SIGKILL .*restarting it in 1 s", 10)
    match = await stack.wait_for_line(r"worker-1 restarted, pid (\d+)", 10)
    new_pid = int(match.group(1))
    assert time.monotonic() - killed_at < 5, stack.output
    assert new_pid != pids["worker-1"]
    assert not _gone(new_pid)
    assert "Stopping the others" not in stack.output

    # The case opened before the kill takes an action after it: the workflow runs on
    # the new worker (the update waits for a worker to run it).
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        acted = await http.post(
            f"/v1/cases/{case_id}/acknowledge",
            json={"note": "Received, looking into it."},
            headers={"Authorization": f"Bearer {stack.token('agent')}"},
        )
    assert acted.status_code == 200, acted.text
    client = await Client.connect(f"127.0.0.1:{stack.temporal_port}")
    history = await client.get_workflow_handle(f"case-{case_id}").fetch_history()
    identities = {
        event.workflow_task_completed_event_attributes.identity
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    }
    # Temporal's default worker identity is "pid@host": both processes ran the case.
    assert {identity.split("@")[0] for identity in identities} == {
        str(pids["worker-1"]),
        str(new_pid),
    }

    # The dev server is not restarted: its death stops everything, naming it, and its
    # database stays for the next start.
    os.kill(pids["temporal"], signal.SIGKILL)
    assert stack.wait_exit(STOP_TIMEOUT) == 1, stack.output
    assert "temporal stopped (temporal was killed by SIGKILL)" in stack.output
    assert "Stopping the others." in stack.output
    database = stack.data_dir / "temporal.db"
    assert f"database is kept in {database}" in stack.output
    assert database.stat().st_size > 0
    _assert_all_stopped(stack, {**pids, "worker-1": new_pid})


async def test_a_child_that_keeps_dying_stops_the_stack_and_is_named(tmp_path: Path) -> None:
    # CASE_WORKER_COMMAND replaces `python worker.py`: here a worker that always fails.
    failing = f"{sys.executable} -c 'import sys; print(\"no worker today\"); sys.exit(3)'"
    running = _launch(tmp_path / "data", CASE_WORKER_COMMAND=failing, CASE_RESTART_BACKOFF="0.1")
    try:
        assert running.wait_exit(READY_TIMEOUT) == 1, running.output
    finally:
        _shut(running)
    output = running.output
    pauses = re.findall(
        r"worker-1 exited with code 3 \(pid \d+\); restarting it in (\S+) s", output
    )
    assert pauses == ["0.1", "0.2", "0.4", "0.8"], output
    assert len(re.findall(r"worker-1 restarted, pid \d+", output)) == 4, output
    assert "worker-1 keeps dying: 5 times within 60 s (worker-1 exited with code 3)" in output
    assert "no worker today" in output  # the log's last lines are shown
    assert "Stopping the others." in output
    assert [p for p in running.ports() if port_in_use("127.0.0.1", p)] == []


async def test_an_existing_cluster_gets_the_search_attributes_and_is_left_running(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = spawn(
        "cluster",
        [
            venv_executable("temporal"),
            *("server", "start-dev", "--headless", "--ip", "127.0.0.1"),
            *("--port", str(port), "--db-filename", str(tmp_path / "cluster.db")),
        ],
        env=dict(os.environ),
        log_dir=tmp_path,
    )
    try:
        assert wait_for_port("127.0.0.1", port, 30), server.last_lines()
        running = _launch(tmp_path / "data", TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
        try:
            await running.wait_ready()
            assert "Temporal Web UI" not in running.output
            pids = running.child_pids()
            case_id = await _open_case(running)
            client = await Client.connect(f"127.0.0.1:{port}")
            described = await client.get_workflow_handle(f"case-{case_id}").describe()
            assert described.status is WorkflowExecutionStatus.RUNNING
            # The stack registered the case attributes, so the workflow could set them.
            assert described.typed_search_attributes.get(CASE_KIND) == "complaint"
            running.process.send_signal(signal.SIGINT)
            assert running.wait_exit(STOP_TIMEOUT) == 0, running.output
            _assert_all_stopped(running, pids, names=("worker-1", "api"))
        finally:
            _shut(running)
        # Not ours: the cluster keeps running.
        assert server.exit_code() is None
        assert port_in_use("127.0.0.1", port)
    finally:
        stop_children([server])


def test_development_credentials_are_generated_once_and_reused(tmp_path: Path) -> None:
    env = _stack_env(tmp_path / "data", *_distinct_free_ports(3))
    first = config_from_env(env)
    again = config_from_env(env)
    assert first.dev_tokens is not None
    assert again.dev_tokens == first.dev_tokens
    assert again.codec_keys == first.codec_keys
    assert first.tokens_file == tmp_path / "data" / "dev-tokens.toml"
    assert first.database_url == f"sqlite:///{tmp_path / 'data' / 'cases.db'}"
    child_env = first.child_env()
    assert child_env["CASE_API_TOKENS_FILE"] == str(first.tokens_file)
    assert child_env["CASE_CODEC_KEYS"] == first.codec_keys
    assert child_env["TEMPORAL_ADDRESS"] == f"127.0.0.1:{first.temporal_port}"
    assert {t.label for t in first.dev_tokens} >= {
        "frontline",
        "agent",
        "supervisor",
        "department:cards",
        "department:loans",
    }


def test_the_banks_own_credentials_are_used_as_given(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[tokens."0123456789abcdef-x"]\nrole = "agent"\nuser = "li.lei"\n')
    env = _stack_env(tmp_path / "data", *_distinct_free_ports(3))
    env.update(CASE_API_TOKENS_FILE=str(tokens), CASE_CODEC_KEYS="k1:" + "A" * 43 + "=")
    config = config_from_env(env)
    assert config.dev_tokens is None
    assert config.tokens_file == tokens
    assert config.codec_keys == "k1:" + "A" * 43 + "="
    assert not (tmp_path / "data" / "dev-tokens.toml").exists()
    assert not (tmp_path / "data" / "dev-codec-key").exists()


def test_a_busy_port_is_reported_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _stack_env(tmp_path / "data", port, *_distinct_free_ports(2))
        result = subprocess.run(
            [sys.executable, "-m", "stack.run"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"port already in use: {port} (CASE_API_PORT)" in result.stderr


def test_dev_tokens_one_per_role_and_department_generated_once(tmp_path: Path) -> None:
    path = tmp_path / "dev-tokens.toml"
    first = ensure_dev_tokens(path, ["cards", "loans"])
    assert [t.label for t in first] == [
        "frontline",
        "agent",
        "supervisor",
        "department:cards",
        "department:loans",
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_dev_tokens(path, ["cards", "loans", "deposits"]) == first
    assert load_tokens(path) == first
    assert len({t.token for t in first}) == len(first)


def test_dev_codec_key_generated_once_as_a_dev_key(tmp_path: Path) -> None:
    path = tmp_path / "dev-codec-key"
    key = ensure_dev_codec_key(path)
    assert key.startswith("dev-")
    assert ensure_dev_codec_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_each_worker_gets_its_own_name_log_and_metrics_port(tmp_path: Path) -> None:
    env = _stack_env(tmp_path / "data", *_distinct_free_ports(3))
    env.update(CASE_WORKERS="3", CASE_WORKER_METRICS_PORT="20100")
    config = config_from_env(env)
    assert config.worker_names == ["worker-1", "worker-2", "worker-3"]
    assert [config.worker_env(i)["CASE_WORKER_METRICS_PORT"] for i in (1, 2, 3)] == [
        "20100",
        "20101",
        "20102",
    ]
    # The rest of a worker's environment is the children's.
    assert config.worker_env(2)["DATABASE_URL"] == config.child_env()["DATABASE_URL"]
    text = banner(config, [])
    metrics = next(line for line in text.splitlines() if "Metrics:" in line)
    assert metrics.split("Metrics:")[1].strip().split(", ") == [
        "worker-1 http://127.0.0.1:20100/metrics",
        "worker-2 http://127.0.0.1:20101/metrics",
        "worker-3 http://127.0.0.1:20102/metrics",
        f"api http://127.0.0.1:{config.api_port}/metrics",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CASE_WORKERS", "0", "CASE_WORKERS must be between 1 and 64"),
        ("CASE_WORKERS", "two", "CASE_WORKERS must be a whole number"),
        ("CASE_WORKER_METRICS_PORT", "65535", "leaves no port for worker-2"),
        ("CASE_RESTART_BACKOFF", "0", "CASE_RESTART_BACKOFF must be more than 0"),
        ("CASE_WORKER_COMMAND", "python 'unclosed", "CASE_WORKER_COMMAND cannot be split"),
    ],
)
def test_bad_fleet_settings_are_refused_naming_the_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    env = _stack_env(tmp_path / "data", *_distinct_free_ports(3))
    env.update({"CASE_WORKERS": "2", name: value})
    with pytest.raises(StackError, match=message):
        config_from_env(env)


def test_the_pause_doubles_up_to_its_cap_and_old_deaths_are_forgotten(tmp_path: Path) -> None:
    assert [RestartPolicy().backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    now = [1000.0]
    said: list[str] = []
    supervisor = Supervisor(tmp_path / "logs", say=said.append, clock=lambda: now[0])
    child = supervisor.start("worker-1", ["sh", "-c", "exit 3"], {})
    try:
        for _ in range(6):  # more deaths than the limit, but each a minute after the last
            child.process.wait(timeout=30)
            supervisor.poll()  # notes the death
            now[0] += 61
            supervisor.poll()  # the pause is over: started again
            (child,) = supervisor.children
        pauses = re.findall(r"restarting it in (\S+) s \((\d) death", "\n".join(said))
        assert pauses == [("1", "1")] * 6
        assert len([line for line in said if "worker-1 restarted, pid" in line]) == 6
    finally:
        supervisor.stop()


def test_a_broken_policy_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """``make run`` with a policy file it cannot use exits at once, naming the key."""
    default = (REPO_ROOT / "policy" / "default.toml").read_text(encoding="utf-8")
    broken = tmp_path / "policy.toml"
    broken.write_text(default.replace('first_response = "PT5M"', 'first_response = "5 min"'))
    env = _stack_env(tmp_path / "data", *_distinct_free_ports(3))
    env["CASE_POLICY_FILE"] = str(broken)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stack.run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "CASE_POLICY_FILE" in result.stderr
    assert "clocks.first_response: not an ISO-8601 duration: '5 min'" in result.stderr
    assert time.monotonic() - started < 20
    assert not (tmp_path / "data" / "temporal.db").exists(), "Temporal was never started"
