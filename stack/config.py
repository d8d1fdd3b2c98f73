"""What ``make run`` reads from the environment, resolved once into a :class:`StackConfig`.

- ``CASE_DATA_DIR`` (default ``./data``): the dev server's SQLite file, the register's
  SQLite file, the development tokens and codec key, and ``logs/``.
- ``CASE_API_HOST`` / ``CASE_API_PORT`` (``127.0.0.1:8000``): where the API listens.
- ``CASE_TEMPORAL_PORT`` / ``CASE_TEMPORAL_UI_PORT`` (``7233``/``8233``): the dev server.
- ``TEMPORAL_ADDRESS``: an existing cluster instead of the dev server (the case search
  attributes are registered there; Temporal's other client variables apply as usual).
- ``DATABASE_URL`` (default: ``cases.db`` in the data directory), ``CASE_POLICY_FILE``.
- ``CASE_API_TOKENS_FILE``, ``CASE_CODEC_KEYS``: when unset, development tokens and a
  development codec key are generated once into the data directory and reused.
- ``CASE_WORKERS`` (default 1): how many worker processes, ``worker-1`` .. ``worker-N``.
- ``CASE_WORKER_METRICS_PORT`` (default 9464): worker ``i`` is given this port + i - 1
  as its own ``CASE_WORKER_METRICS_PORT``.
- ``CASE_WORKER_COMMAND``: the command line of a worker (default ``python worker.py``),
  split like a shell would; for wrapping the worker (a profiler, ``nice``) and for the
  launcher's own tests, which point it at a command that fails.
- ``CASE_RESTART_BACKOFF`` (seconds, default 1): the first pause before a dead worker
  or API is restarted; it doubles at each death within a minute, up to 30 s.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from settings.departments import load_departments
from stack.tokens import (
    CODEC_KEY_FILE_NAME,
    TOKENS_FILE_NAME,
    DevToken,
    ensure_dev_codec_key,
    ensure_dev_tokens,
)

LOOPBACK = "127.0.0.1"
DEFAULT_WORKER_METRICS_PORT = 9464
MAX_WORKERS = 64


class StackError(RuntimeError):
    """The stack could not start (or a child died); the message says which and why."""


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
    workers: int = 1
    worker_metrics_base_port: int = DEFAULT_WORKER_METRICS_PORT
    # ``None``: ``python worker.py``.
    worker_command: tuple[str, ...] | None = None
    restart_backoff_seconds: float = 1.0

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def temporal_address(self) -> str:
        return self.external_temporal_address or f"{LOOPBACK}:{self.temporal_port}"

    @property
    def temporal_db_file(self) -> Path:
        """The dev server's SQLite file: the workflows' histories, kept across runs."""
        return self.data_dir / "temporal.db"

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

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{index}" for index in range(1, self.workers + 1)]

    def worker_metrics_port(self, index: int) -> int:
        """Worker ``index`` (1-based) serves its metrics on this port."""
        return self.worker_metrics_base_port + index - 1

    def worker_metrics_url(self, index: int) -> str:
        return f"http://{LOOPBACK}:{self.worker_metrics_port(index)}/metrics"

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

    def worker_env(self, index: int) -> dict[str, str]:
        """Worker ``index``'s environment: the children's, with its own metrics port."""
        env = self.child_env()
        env["CASE_WORKER_METRICS_PORT"] = str(self.worker_metrics_port(index))
        return env


def _int_env(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise StackError(f"{name} must be a whole number, got {raw!r}") from exc
    if not low <= value <= high:
        raise StackError(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def _port_env(env: Mapping[str, str], name: str, default: int) -> int:
    return _int_env(env, name, default, low=1, high=65535)


def _seconds_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise StackError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if not 0 < value <= 60:
        raise StackError(f"{name} must be more than 0 and at most 60 seconds, got {raw!r}")
    return value


def _worker_command(env: Mapping[str, str]) -> tuple[str, ...] | None:
    raw = env.get("CASE_WORKER_COMMAND", "").strip()
    if not raw:
        return None
    try:
        argv = tuple(shlex.split(raw))
    except ValueError as exc:
        raise StackError(f"CASE_WORKER_COMMAND cannot be split: {exc}") from exc
    return argv or None


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
    workers = _int_env(env, "CASE_WORKERS", 1, low=1, high=MAX_WORKERS)
    metrics_base = _port_env(env, "CASE_WORKER_METRICS_PORT", DEFAULT_WORKER_METRICS_PORT)
    if metrics_base + workers - 1 > 65535:
        raise StackError(
            f"CASE_WORKER_METRICS_PORT={metrics_base} leaves no port for worker-{workers}"
        )
    return StackConfig(
        data_dir=data_dir,
        api_host=env.get("CASE_API_HOST", "").strip() or LOOPBACK,
        api_port=_port_env(env, "CASE_API_PORT", 8000),
        temporal_port=_port_env(env, "CASE_TEMPORAL_PORT", 7233),
        temporal_ui_port=_port_env(env, "CASE_TEMPORAL_UI_PORT", 8233),
        external_temporal_address=env.get("TEMPORAL_ADDRESS", "").strip() or None,
        database_url=database_url,
        tokens_file=tokens_file,
        codec_keys=codec_keys,
        dev_tokens=dev_tokens,
        base_env=env,
        workers=workers,
        worker_metrics_base_port=metrics_base,
        worker_command=_worker_command(env),
        restart_backoff_seconds=_seconds_env(env, "CASE_RESTART_BACKOFF", 1.0),
    )
