"""The whole product in one command (``make run``): Temporal, the worker and the API.

Configuration comes from the environment:

- ``CASE_DATA_DIR`` (default ``./data``): the dev server's SQLite file, the register's
  SQLite file, the development tokens and codec key, and ``logs/``.
- ``CASE_API_HOST`` / ``CASE_API_PORT`` (``127.0.0.1:8000``): where the API listens.
- ``CASE_TEMPORAL_PORT`` / ``CASE_TEMPORAL_UI_PORT`` (``7233``/``8233``): the dev server.
- ``TEMPORAL_ADDRESS``: an existing cluster instead of the dev server (the case search
  attributes are registered there; Temporal's other client variables apply as usual).
- ``DATABASE_URL`` (default: ``cases.db`` in the data directory), ``CASE_POLICY_FILE``.
- ``CASE_API_TOKENS_FILE``, ``CASE_CODEC_KEYS``: when unset, development tokens and a
  development codec key are generated once into the data directory and reused.

Children log to ``<data>/logs/<name>.log``. Ctrl-C (or SIGTERM) stops them all; if one
dies, the others are stopped and this exits non-zero naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.envconfig import ClientConfig

from settings.departments import load_departments
from stack.processes import (
    Child,
    port_in_use,
    spawn,
    stop_children,
    tail,
    venv_executable,
)
from stack.search_attributes import DEV_SERVER_ARGS
from stack.tokens import (
    CODEC_KEY_FILE_NAME,
    TOKENS_FILE_NAME,
    DevToken,
    ensure_dev_codec_key,
    ensure_dev_tokens,
    find_token,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
READY_LINE = "Case engine ready."
TEMPORAL_START_TIMEOUT = 60.0
API_READY_TIMEOUT = 90.0

EXIT_CHILD_FAILED = 1
EXIT_CONFIG = 2


class StackError(RuntimeError):
    """The stack could not start (or a child died); the message says which and why."""


class StartInterruptedError(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


@dataclass(frozen=True)
class StackConfig:
    """Everything ``stack.run`` reads from the environment, resolved."""

    data_dir: Path
    api_host: str
    api_port: int
    temporal_port: int
    temporal_ui_port: int
    # Set: an existing cluster, no dev server.
    external_temporal_address: str | None
    database_url: str
    tokens_file: Path
    codec_keys: str
    # The generated development tokens; ``None`` when the bank's own file is used (its
    # tokens are never printed).
    dev_tokens: list[DevToken] | None
    base_env: Mapping[str, str] = field(repr=False)
    api_access_log: bool = True

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def temporal_address(self) -> str:
        return self.external_temporal_address or f"{LOOPBACK}:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        """The API's URL as a browser or curl on this machine reaches it."""
        host = self.api_host
        if host in ("0.0.0.0", "::", ""):
            host = LOOPBACK
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"

    @property
    def ui_url(self) -> str | None:
        if self.external_temporal_address is not None:
            return None
        return f"http://{LOOPBACK}:{self.temporal_ui_port}"

    def child_env(self) -> dict[str, str]:
        """The environment of the worker and the API."""
        env = dict(self.base_env)
        env.update(
            TEMPORAL_ADDRESS=self.temporal_address,
            DATABASE_URL=self.database_url,
            CASE_CODEC_KEYS=self.codec_keys,
            CASE_API_TOKENS_FILE=str(self.tokens_file),
            PYTHONUNBUFFERED="1",
        )
        if self.ui_url is not None and "CASE_CODEC_CORS_ORIGINS" not in self.base_env:
            # The browser's origin is whichever name the user typed for the UI.
            env["CASE_CODEC_CORS_ORIGINS"] = (
                f"{self.ui_url},http://localhost:{self.temporal_ui_port}"
            )
        return env


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise StackError(f"{name} must be a port number, got {raw!r}") from exc
    if not 0 < value < 65536:
        raise StackError(f"{name} must be a port number, got {raw!r}")
    return value


def config_from_env(env: Mapping[str, str] | None = None) -> StackConfig:
    """Resolve the configuration, generating development credentials on first use."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("CASE_DATA_DIR") or "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    tokens_file_raw = env.get("CASE_API_TOKENS_FILE", "").strip()
    dev_tokens: list[DevToken] | None = None
    if tokens_file_raw:
        tokens_file = Path(tokens_file_raw).resolve()
        if not tokens_file.is_file():
            raise StackError(f"CASE_API_TOKENS_FILE={tokens_file_raw} does not exist")
    else:
        tokens_file = data_dir / TOKENS_FILE_NAME
        departments_file = env.get("CASE_DEPARTMENTS_FILE", "").strip()
        try:
            departments = load_departments(Path(departments_file) if departments_file else None)
            dev_tokens = ensure_dev_tokens(tokens_file, departments)
        except (OSError, ValueError, KeyError) as exc:
            raise StackError(f"cannot read {tokens_file}: {exc}") from exc

    codec_keys = env.get("CASE_CODEC_KEYS", "").strip()
    if not codec_keys:
        try:
            codec_keys = ensure_dev_codec_key(data_dir / CODEC_KEY_FILE_NAME)
        except (OSError, ValueError) as exc:
            raise StackError(f"cannot use {data_dir / CODEC_KEY_FILE_NAME}: {exc}") from exc

    database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'cases.db'}"
    temporal_port = _int_env(env, "CASE_TEMPORAL_PORT", 7233)
    return StackConfig(
        data_dir=data_dir,
        api_host=env.get("CASE_API_HOST", "").strip() or LOOPBACK,
        api_port=_int_env(env, "CASE_API_PORT", 8000),
        temporal_port=temporal_port,
        temporal_ui_port=_int_env(env, "CASE_TEMPORAL_UI_PORT", 8233),
        external_temporal_address=env.get("TEMPORAL_ADDRESS", "").strip() or None,
        database_url=database_url,
        tokens_file=tokens_file,
        codec_keys=codec_keys,
        dev_tokens=dev_tokens,
        base_env=env,
    )


def dev_server_argv(config: StackConfig) -> list[str]:
    """``temporal server start-dev`` with SQLite persistence tuned for throughput (WAL)."""
    return [
        venv_executable("temporal"),
        "server",
        "start-dev",
        "--ip",
        LOOPBACK,
        "--port",
        str(config.temporal_port),
        "--ui-port",
        str(config.temporal_ui_port),
        "--db-filename",
        str(config.data_dir / "temporal.db"),
        # WAL and synchronous=normal: 2-3x the throughput of the defaults on SQLite.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        # The Web UI decodes encrypted payloads through the API's codec endpoint.
        "--ui-codec-endpoint",
        f"{config.api_url}/codec",
        "--ui-disable-news-fetch",
        *DEV_SERVER_ARGS,
    ]


def worker_argv() -> list[str]:
    return [sys.executable, str(REPO_ROOT / "worker.py")]


def api_argv(config: StackConfig) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.main:app",
        "--host",
        config.api_host,
        "--port",
        str(config.api_port),
        "--timeout-graceful-shutdown",
        "5",
    ]
    if not config.api_access_log:
        argv.append("--no-access-log")
    return argv


class Stack:
    """The running children, in start order: Temporal (unless external), worker, API."""

    def __init__(self, config: StackConfig, *, stop_event: asyncio.Event | None = None) -> None:
        self.config = config
        self.children: list[Child] = []
        self._stop_event = stop_event or asyncio.Event()

    # --- start -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything and wait until the API is ready; stop what started on failure."""
        try:
            await self._start()
        except BaseException:
            self.stop()
            raise

    async def _start(self) -> None:
        config = self.config
        self._check_ports_free()
        env = config.child_env()
        if config.external_temporal_address is None:
            temporal = self._spawn("temporal", dev_server_argv(config), env)
            await self._wait_for_temporal(temporal)
        else:
            await self._wait_for_temporal(None)
            self._run_once("search-attributes", [sys.executable, "-m", "stack.search_attributes"])
        self._migrate()
        self._spawn("worker", worker_argv(), env)
        api = self._spawn("api", api_argv(config), env)
        await self._wait_for_api(api)

    def _check_ports_free(self) -> None:
        config = self.config
        wanted = [("CASE_API_PORT", LOOPBACK, config.api_port)]
        if config.external_temporal_address is None:
            wanted += [
                ("CASE_TEMPORAL_PORT", LOOPBACK, config.temporal_port),
                ("CASE_TEMPORAL_UI_PORT", LOOPBACK, config.temporal_ui_port),
            ]
        busy = [f"{port} ({name})" for name, host, port in wanted if port_in_use(host, port)]
        if busy:
            raise StackError(
                f"port already in use: {', '.join(busy)}; stop what holds it or set "
                "the variable to another port"
            )

    def _spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        child = spawn(name, argv, env=env, log_dir=self.config.log_dir, cwd=REPO_ROOT)
        self.children.append(child)
        return child

    def _run_once(self, name: str, argv: Sequence[str]) -> None:
        """Run a set-up command to completion, its output in the logs."""
        child = self._spawn(name, argv, self.config.child_env())
        self.children.remove(child)
        try:
            code = child.process.wait(timeout=TEMPORAL_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop_children([child])
            raise StackError(f"{name} did not finish in {TEMPORAL_START_TIMEOUT:.0f} s") from None
        child.close_log()
        if code != 0:
            raise StackError(self.describe_failure(child, "failed"))

    def _migrate(self) -> None:
        """Bring the register's schema to head once, before worker and API open it."""
        # The URL goes through the environment: a password on a command line shows in ps.
        code = (
            "import os; from store.migrate import upgrade_to_head; "
            "upgrade_to_head(os.environ['DATABASE_URL'])"
        )
        self._run_once("migrate", [sys.executable, "-c", code])

    def describe_failure(self, child: Child, what: str) -> str:
        lines = tail(child.log_path, 30).strip("\n")
        log = _display_path(child.log_path)
        text = f"{child.name} {what} ({child.describe_exit()}); last lines of {log}:"
        return text + ("\n" + _indent(lines) if lines else " (empty)")

    def _check_alive(self) -> None:
        if self._stop_event.is_set():
            raise StartInterruptedError
        for child in self.children:
            if child.exit_code() is not None:
                raise StackError(self.describe_failure(child, "stopped while starting"))

    async def _wait_for_temporal(self, child: Child | None) -> None:
        deadline = time.monotonic() + TEMPORAL_START_TIMEOUT
        address = self.config.temporal_address
        last_error = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if child is None:
                    # An existing cluster: Temporal's own env config (TLS, API key...).
                    connect = Client.connect(
                        **ClientConfig.load_client_connect_config(
                            override_env_vars=self.config.base_env
                        )
                    )
                else:
                    connect = Client.connect(address)
                await asyncio.wait_for(connect, timeout=5.0)
                return
            except Exception as exc:  # the server is not answering yet
                last_error = str(exc)
            await asyncio.sleep(0.3)
        message = f"Temporal at {address} did not answer in {TEMPORAL_START_TIMEOUT:.0f} s"
        if child is not None:
            raise StackError(self.describe_failure(child, "did not start") + f"\n{message}")
        raise StackError(f"{message}: {last_error}")

    async def _wait_for_api(self, child: Child) -> None:
        url = f"{self.config.api_url}/readyz"
        deadline = time.monotonic() + API_READY_TIMEOUT
        last = "no answer"
        async with httpx.AsyncClient(timeout=5.0) as http:
            while time.monotonic() < deadline:
                self._check_alive()
                try:
                    response = await http.get(url)
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                await asyncio.sleep(0.3)
        raise StackError(
            self.describe_failure(child, "did not become ready")
            + f"\nGET {url} last answered: {last}"
        )

    # --- run and stop ------------------------------------------------------------------

    async def watch(self) -> Child | None:
        """Wait until a stop is requested (``None``) or a child dies (that child)."""
        while not self._stop_event.is_set():
            for child in self.children:
                if child.exit_code() is not None:
                    return child
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), timeout=0.5)
        return None

    def stop(self) -> None:
        """Stop the children, the last started first: API, worker, then Temporal."""
        children, self.children = self.children, []
        stop_children(list(reversed(children)))


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def example_curl(config: StackConfig, token: str) -> str:
    body = {
        "kind": "complaint",
        "channel": "phone",
        "customer": {"id": "C-1001", "name": "Li Na", "phone": "+86 138 0000 0000"},
        "category": "card_fee",
        "product": "credit_card",
        "description": "Annual fee charged twice this month.",
    }
    return " ".join(
        [
            "curl -s -X POST",
            shlex.quote(f"{config.api_url}/v1/cases"),
            "-H",
            shlex.quote(f"Authorization: Bearer {token}"),
            "-H",
            shlex.quote("Content-Type: application/json"),
            "-d",
            shlex.quote(json.dumps(body, ensure_ascii=False)),
        ]
    )


def banner(config: StackConfig, children: Sequence[Child]) -> str:
    lines = [
        READY_LINE,
        f"  API docs:        {config.api_url}/docs",
    ]
    if config.ui_url is not None:
        lines.append(f"  Temporal Web UI: {config.ui_url}")
    lines += [
        f"  Temporal:        {config.temporal_address}",
        f"  Data:            {config.data_dir} (logs in {config.log_dir})",
        "  Processes:       " + ", ".join(f"{c.name} pid {c.pid}" for c in children),
    ]
    if config.dev_tokens is not None:
        lines.append(f"Development tokens (role -> token, from {config.tokens_file}):")
        lines += [f"  {entry.label:<22} {entry.token}" for entry in config.dev_tokens]
        frontline = find_token(config.dev_tokens, "frontline")
        lines += ["Open a complaint:", f"  {example_curl(config, frontline)}"]
    else:
        lines.append(f"API tokens: from {config.tokens_file}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def _run(config: StackConfig) -> int:
    loop = asyncio.get_running_loop()
    stop_event = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)
    stack = Stack(config, stop_event=stop_event)
    where = config.temporal_address
    print(f"Starting the case engine (data in {config.data_dir}, Temporal at {where})...")
    sys.stdout.flush()
    try:
        await stack.start()
    except StartInterruptedError:
        print("Stopped before the stack was ready.", file=sys.stderr)
        return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CHILD_FAILED
    print(banner(config, stack.children), flush=True)
    died = await stack.watch()
    if died is not None:
        message = stack.describe_failure(died, "stopped")
        print(f"error: {message}\nStopping the others.", file=sys.stderr)
        stack.stop()
        return EXIT_CHILD_FAILED
    print("Stopping...", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    if argv:
        print(__doc__)
        return 0 if argv[0] in ("-h", "--help") else EXIT_CONFIG
    try:
        config = config_from_env()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(_run(config))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
