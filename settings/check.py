"""Configuration checked at start: a process refuses to run on a file it cannot use.

The worker and the API call :func:`check_configuration` before they take any work, so
a broken policy, departments or tokens file, or malformed codec keys, stop the
process at once with a message naming the variable, the file and the key at fault,
instead of surfacing when the first case arrives. The API's ``/readyz`` calls
:func:`configuration_problems` on every probe and reports not ready while a file is
broken; the files are re-read only when their modification time or size changes.

A file that breaks while the worker runs does not stop it: intake waits for the file
to be fixed (the policy activity is retried), and cases already open keep the policy
they started with.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from settings.app import Settings

__all__ = ["ConfigurationError", "check_configuration", "configuration_problems"]


class ConfigurationError(ValueError):
    """The configuration cannot be used; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("refusing to start: " + "; ".join(problems))


def configuration_problems(settings: Settings, *, api_tokens: bool = True) -> list[str]:
    """Every problem with the files and keys named by ``settings``; empty when usable.

    ``api_tokens=False`` leaves the tokens file out (the worker does not read it).
    """
    return [
        problem
        for problem in (
            _policy(settings.policy_file),
            _departments(settings.departments_file),
            _codec_keys(settings.codec_keys),
            _tokens(settings.api_tokens_file) if api_tokens else None,
        )
        if problem is not None
    ]


def check_configuration(settings: Settings, *, api_tokens: bool = True) -> None:
    """Raise :class:`ConfigurationError` when any configured file or key is unusable."""
    problems = configuration_problems(settings, api_tokens=api_tokens)
    if problems:
        raise ConfigurationError(problems)


def _policy(path: Path | None) -> str | None:
    # Imported here: the policy package imports the workflow messages, which the
    # settings package must not need to load.
    from policy.loader import PolicyError, load_policy_document

    try:
        load_policy_document(path)
    except PolicyError as err:
        return f"CASE_POLICY_FILE: {err}"
    return None


def _departments(path: Path | None) -> str | None:
    from settings.departments import DepartmentsError, load_departments

    try:
        load_departments(path)
    except DepartmentsError as err:
        return f"CASE_DEPARTMENTS_FILE: {err}"
    return None


def _codec_keys(raw: str | None) -> str | None:
    from codec.keys import CodecKeyError, parse_codec_keys

    try:
        parse_codec_keys(raw)
    except CodecKeyError as err:  # the message never holds key material
        return f"CASE_CODEC_KEYS: {err}"
    return None


def _tokens(path: Path | None) -> str | None:
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
    from api.auth import load_tokens

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
