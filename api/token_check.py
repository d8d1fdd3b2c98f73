"""The API tokens file checked at start and by ``/readyz`` (``preflight.check``)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.auth import load_tokens


def tokens_problem(path: Path | None) -> str | None:
    """The tokens file's problem, or None when it is usable (or not configured)."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError as err:
        return f"CASE_API_TOKENS_FILE: API tokens file {path}: cannot be read: {err.strerror}"
    return _tokens_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _tokens_file(path: str, mtime_ns: int, size: int) -> str | None:
    """The tokens file's problem, cached by modification time and size.

    Tokens are secrets: a key at fault is named by its position in the file, never by
    the token itself.
    """
    source = f"CASE_API_TOKENS_FILE: API tokens file {path}"
    try:
        load_tokens(Path(path))
    except ValueError as err:
        cause = err.__cause__
        if isinstance(cause, OSError):
            return f"{source}: cannot be read: {cause.strerror}"
        if isinstance(cause, UnicodeDecodeError):
            return f"{source}: not UTF-8 text"
        if isinstance(cause, tomllib.TOMLDecodeError):
            return f"{source}: not valid TOML: {cause}"
        if isinstance(cause, ValidationError):
            return f"{source}: {_describe_token_error(Path(path), cause)}"
        return f"{source}: {err}"
    return None


def _describe_token_error(path: Path, error: ValidationError) -> str:
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        raw = {}
    tables = raw.get("tokens")
    order = list(tables) if isinstance(tables, dict) else []
    first = error.errors()[0]
    parts: list[str] = []
    for index, part in enumerate(first["loc"]):
        if index == 1 and first["loc"][0] == "tokens" and part in order:
            parts.append(f"<token #{order.index(part) + 1}>")
        else:
            parts.append(str(part))
    where = ".".join(parts)
    problem = {"missing": "missing", "extra_forbidden": "unknown key"}.get(
        first["type"], first["msg"]
    )
    return f"{where}: {problem}" if where else problem
