"""The whole product in one command (``make run``): Temporal, the workers and the API.

The configuration comes from the environment (``stack.config`` lists every variable);
the children are started and kept up by ``stack.supervisor``; the banner that says
where everything is comes from ``stack.banner``.

Children log to ``<data>/logs/<name>.log``. A worker or the API that dies is restarted
with a growing pause and a line here. Ctrl-C (or SIGTERM) stops them all; the stack
also stops, exiting non-zero and naming it, when the dev server dies (its database file
is kept) or when a child dies five times within a minute.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence

from stack.banner import READY_LINE, banner
from stack.config import StackConfig, StackError, config_from_env
from stack.supervisor import ChildFailedError, Stack, StartInterruptedError

__all__ = ["READY_LINE", "Stack", "StackConfig", "StackError", "config_from_env", "main"]

EXIT_CHILD_FAILED = 1
EXIT_CONFIG = 2


def _failure_message(exc: ChildFailedError, config: StackConfig) -> str:
    message = f"error: {exc}"
    if exc.child.name == "temporal":
        message += f"\nThe dev server's database is kept in {config.temporal_db_file}."
    return message + "\nStopping the others."


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
    except ChildFailedError as exc:
        print(_failure_message(exc, config), file=sys.stderr)
        return EXIT_CHILD_FAILED
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CHILD_FAILED
    print(banner(config, stack.children), flush=True)
    try:
        await stack.watch()
    except ChildFailedError as exc:
        print(_failure_message(exc, config), file=sys.stderr, flush=True)
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
