"""Set up what the engine runs on its own, once per release: ``python -m ops.setup``.

Idempotent: the crisis monitor is started unless it runs (and the report schedules
are created or updated where they exist), so the launcher runs it at every start and
a cluster's release job can run it as often as it likes.
"""

from __future__ import annotations

import asyncio
import os
import sys

from codec.converter import connect_client
from ops.crisis import ensure_crisis_monitor
from ops.schedules import ensure_schedules
from settings import get_settings


async def set_up() -> list[str]:
    """What was ensured, one line each."""
    settings = get_settings()
    client = await connect_client(settings)
    run_id = await ensure_crisis_monitor(client, settings)
    schedules = await ensure_schedules(client, settings)
    listed = ", ".join(f"{kind.value} {schedule_id}" for kind, schedule_id in schedules.items())
    return [f"crisis monitor running (run {run_id})", f"report schedules: {listed}"]


def main() -> int:
    for line in asyncio.run(set_up()):
        print(line)
    return 0


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's native client must not be torn down at interpreter exit in a
    # short-lived process (it can abort there): leave at once, as ops.schedules does.
    os._exit(exit_code)
