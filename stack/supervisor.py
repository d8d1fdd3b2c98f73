"""Process supervision for ``make run``: start the children in order, keep them up.

A worker or the API that dies is restarted after a pause that doubles with each death
in the last minute (1 s, 2 s, 4 s ... up to 30 s), with a line on the launcher's output
saying which died, how, and its new pid. A child that dies five times within a minute
is crash-looping: the stack stops and names it. The dev server is not restarted: it
holds every workflow, so its death is reported and the stack stops (its database file
is kept for the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.envconfig import ClientConfig

from preflight.check import configuration_problems
from settings.app import Settings
from stack.commands import (
    REPO_ROOT,
    api_argv,
    dev_server_argv,
    migrate_argv,
    search_attributes_argv,
    setup_argv,
    worker_argv,
)
from stack.config import LOOPBACK, StackConfig, StackError
from stack.processes import Child, port_in_use, spawn, stop_children, tail

TEMPORAL_START_TIMEOUT = 60.0
API_READY_TIMEOUT = 90.0
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RestartPolicy:
    """When a dead child is started again, and when the stack gives up on it."""

    first_backoff: float = 1.0
    max_backoff: float = 30.0
    # ``max_deaths`` deaths within ``window`` seconds: crash-looping, stop the stack.
    max_deaths: int = 5
    window: float = 60.0

    def backoff(self, recent_deaths: int) -> float:
        """The pause after the ``recent_deaths``-th death within the window (1-based)."""
        exponent = max(0, recent_deaths - 1)
        return float(min(self.max_backoff, self.first_backoff * 2**exponent))


class StartInterruptedError(Exception):
    """Ctrl-C or SIGTERM arrived while the stack was starting."""


class ChildFailedError(StackError):
    """A child the stack cannot do without died, or one keeps dying."""

    def __init__(self, message: str, child: Child) -> None:
        super().__init__(message)
        self.child = child


@dataclass
class Supervised:
    """One child the supervisor keeps up (or, ``restart=False``, only watches)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    restart: bool
    child: Child
    deaths: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    restarts: int = 0


def describe_failure(child: Child, what: str) -> str:
    """``worker-1 stopped (worker-1 exited with code 3); last lines of <log>: ...``."""
    lines = tail(child.log_path, 30).strip("\n")
    log = _display_path(child.log_path)
    text = f"{child.name} {what} ({child.describe_exit()}); last lines of {log}:"
    return text + ("\n" + _indent(lines) if lines else " (empty)")


class Supervisor:
    """The children in start order; :meth:`poll` restarts the dead and raises on the
    ones the stack cannot go on without."""

    def __init__(
        self,
        log_dir: Path,
        *,
        policy: RestartPolicy | None = None,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log_dir = log_dir
        self.policy = policy or RestartPolicy()
        self._say = say
        self._clock = clock
        self._entries: list[Supervised] = []

    @property
    def children(self) -> list[Child]:
        """The current process of every child, in start order."""
        return [entry.child for entry in self._entries]

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], *, restart: bool = True
    ) -> Child:
        child = spawn(name, argv, env=env, log_dir=self.log_dir, cwd=REPO_ROOT)
        self._entries.append(
            Supervised(name=name, argv=list(argv), env=dict(env), restart=restart, child=child)
        )
        return child

    def poll(self) -> None:
        """Note deaths, restart the children whose pause is over; raise
        :class:`ChildFailedError` for a child that is not restarted or keeps dying."""
        now = self._clock()
        for entry in self._entries:
            child = entry.child
            if entry.restart_at is None and child.exit_code() is not None:
                self._died(entry, now)
            if entry.restart_at is not None and now >= entry.restart_at:
                self._restart(entry)

    def _died(self, entry: Supervised, now: float) -> None:
        child = entry.child
        child.close_log()
        if not entry.restart:
            raise ChildFailedError(describe_failure(child, "stopped"), child)
        deaths = entry.deaths
        deaths.append(now)
        while deaths and now - deaths[0] > self.policy.window:
            deaths.popleft()
        if len(deaths) >= self.policy.max_deaths:
            raise ChildFailedError(
                describe_failure(
                    child,
                    f"keeps dying: {len(deaths)} times within {self.policy.window:.0f} s",
                ),
                child,
            )
        pause = self.policy.backoff(len(deaths))
        entry.restart_at = now + pause
        self._say(
            f"{child.describe_exit()} (pid {child.pid}); restarting it in {pause:g} s "
            f"({len(deaths)} death(s) in the last {self.policy.window:.0f} s, "
            f"log {_display_path(child.log_path)})"
        )

    def _restart(self, entry: Supervised) -> None:
        entry.restart_at = None
        entry.restarts += 1
        entry.child = spawn(
            entry.name, entry.argv, env=entry.env, log_dir=self.log_dir, cwd=REPO_ROOT
        )
        self._say(f"{entry.name} restarted, pid {entry.child.pid} (restart {entry.restarts})")

    def stop(self) -> None:
        """Stop every child, the last started first."""
        entries, self._entries = self._entries, []
        stop_children([entry.child for entry in reversed(entries)])


class Stack:
    """The product's children, in start order: Temporal (unless external), the workers,
    the API; kept up by a :class:`Supervisor`."""

    def __init__(
        self,
        config: StackConfig,
        *,
        stop_event: asyncio.Event | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self._stop_event = stop_event or asyncio.Event()
        self.supervisor = Supervisor(
            config.log_dir,
            policy=RestartPolicy(first_backoff=config.restart_backoff_seconds),
            say=say or (lambda line: print(line, flush=True)),
        )

    @property
    def children(self) -> list[Child]:
        return self.supervisor.children

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
        self._check_configuration()
        self._check_ports_free()
        env = config.child_env()
        if config.external_temporal_address is None:
            temporal = self.supervisor.start(
                "temporal", dev_server_argv(config), env, restart=False
            )
            await self._wait_for_temporal(temporal)
        else:
            await self._wait_for_temporal(None)
            self._run_once("search-attributes", search_attributes_argv())
        self._run_once("migrate", migrate_argv())
        for index, name in enumerate(config.worker_names, start=1):
            self.supervisor.start(name, worker_argv(config), config.worker_env(index))
        api = self.supervisor.start("api", api_argv(config), env)
        self._run_once("setup", setup_argv())
        await self._wait_for_api(api)

    def _check_configuration(self) -> None:
        """Refuse to start, before Temporal, on a file the worker or API cannot use
        (the API checks its tokens file itself when it starts)."""
        try:
            settings = Settings.model_validate(self.config.child_env())
        except ValueError as err:
            raise StackError(f"configuration refused: {err}") from None
        problems = configuration_problems(settings)
        if problems:
            raise StackError("configuration refused: " + "; ".join(problems))

    def _check_ports_free(self) -> None:
        config = self.config
        wanted = [("CASE_API_PORT", LOOPBACK, config.api_port)]
        if config.external_temporal_address is None:
            wanted += [
                ("CASE_TEMPORAL_PORT", LOOPBACK, config.temporal_port),
                ("CASE_TEMPORAL_UI_PORT", LOOPBACK, config.temporal_ui_port),
            ]
        for index in range(1, config.workers + 1):
            port = config.worker_metrics_port(index)
            wanted.append((f"CASE_WORKER_METRICS_PORT for worker-{index}", LOOPBACK, port))
        busy = [f"{port} ({name})" for name, host, port in wanted if port_in_use(host, port)]
        if busy:
            raise StackError(
                f"port already in use: {', '.join(busy)}; stop what holds it or set "
                "the variable to another port"
            )

    def _run_once(self, name: str, argv: Sequence[str]) -> None:
        """Run a set-up command to completion, its output in the logs."""
        child = spawn(
            name, argv, env=self.config.child_env(), log_dir=self.config.log_dir, cwd=REPO_ROOT
        )
        try:
            code = child.process.wait(timeout=TEMPORAL_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop_children([child])
            raise StackError(f"{name} did not finish in {TEMPORAL_START_TIMEOUT:.0f} s") from None
        child.close_log()
        if code != 0:
            raise StackError(describe_failure(child, "failed"))

    def describe_failure(self, child: Child, what: str) -> str:
        return describe_failure(child, what)

    def _check_alive(self) -> None:
        if self._stop_event.is_set():
            raise StartInterruptedError
        self.supervisor.poll()

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
            raise StackError(describe_failure(child, "did not start") + f"\n{message}")
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
            describe_failure(child, "did not become ready") + f"\nGET {url} last answered: {last}"
        )

    # --- run and stop ------------------------------------------------------------------

    async def watch(self) -> None:
        """Keep the children up until a stop is requested; raise
        :class:`ChildFailedError` when the dev server dies or a child keeps dying."""
        while not self._stop_event.is_set():
            self.supervisor.poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), timeout=POLL_SECONDS)

    def stop(self) -> None:
        """Stop the children, the last started first: API, workers, then Temporal."""
        self.supervisor.stop()


def _display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
