"""What the generators share: where the docs live, writing and checking a file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def human(value: timedelta) -> str:
    """``timedelta(hours=48)`` -> ``48 h``; minutes, hours or days, whichever is whole."""
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds > 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def run(name: str, render: Callable[[], str], argv: list[str] | None = None) -> int:
    """Write ``docs/<name>`` from ``render``; with ``--check``, only say whether the
    committed file is current (exit 1 when it is not)."""
    args = sys.argv[1:] if argv is None else argv
    target = DOCS / name
    text = render()
    if "--check" in args:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"docs/{name} is out of date: run python -m docs_gen.{Path(name).stem}")
            return 1
        print(f"docs/{name} is current")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote docs/{name}")
    return 0
