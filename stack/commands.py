"""The command lines of the stack's children: the dev server, a worker, the API, and the
one-off set-up commands (search attributes, the register's migrations)."""

from __future__ import annotations

import sys
from pathlib import Path

from stack.config import LOOPBACK, StackConfig
from stack.processes import venv_executable
from stack.search_attributes import DEV_SERVER_ARGS

REPO_ROOT = Path(__file__).resolve().parent.parent


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
        str(config.temporal_db_file),
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


def worker_argv(config: StackConfig | None = None) -> list[str]:
    if config is not None and config.worker_command is not None:
        return list(config.worker_command)
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


def search_attributes_argv() -> list[str]:
    return [sys.executable, "-m", "stack.search_attributes"]


def setup_argv() -> list[str]:
    """What the engine runs on its own (the crisis monitor, the report schedules)."""
    return [sys.executable, "-m", "ops.setup"]


def migrate_argv() -> list[str]:
    """``python -m store.migrate``: the register's schema to head (``DATABASE_URL`` from
    the environment: a password on a command line shows in ``ps``)."""
    return [sys.executable, "-m", "store.migrate"]
