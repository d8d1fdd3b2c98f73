"""Every example in the operations manuals runs against the API (R7.2).

``docs/manual.en.md`` and ``docs/manual.zh-CN.md`` hold the same examples:

- ```` ```http ```` blocks: a ``# path: <name> · expect: <status>`` line, the request
  line, headers, a blank line and an optional JSON body. ``{case}`` is the case the
  path's first example opened; ``{frontline}``, ``{agent}``, ``{supervisor}``,
  ``{cards}`` are those callers' tokens. Each path's examples run in order.
- ```` ```json signal=<name> ```` blocks: a signal and its JSON, sent (as a supervisor
  does from the Web UI) to the ``console`` path's case; each must be applied, not
  recorded as ``signal_rejected``.
- ```` ```sql ```` blocks: saved Web UI queries, run on the server's visibility store.

The test parses both manuals, checks they hold the same examples, and runs them once,
on the real API, worker and dev server (SQLite register).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.case import case_workflow_id
from tests.api_fixtures import ApiStack

DOCS = Path(__file__).resolve().parent.parent / "docs"
MANUALS = ("manual.en.md", "manual.zh-CN.md")
_BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_HEADER = re.compile(r"#\s*path:\s*(\w+)\s*·\s*expect:\s*(\d{3})")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class HttpExample:
    path_name: str
    expect: int
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None


@dataclass(frozen=True)
class Examples:
    http: tuple[HttpExample, ...]
    signals: tuple[tuple[str, str], ...]
    queries: tuple[str, ...]


def parse_http(text: str) -> HttpExample:
    lines = text.strip("\n").split("\n")
    header = _HEADER.fullmatch(lines[0].strip())
    assert header is not None, f"an http example starts with '# path: ... · expect: ...': {text}"
    method, url = lines[1].split(" ", 1)
    headers: list[tuple[str, str]] = []
    index = 2
    while index < len(lines) and lines[index].strip():
        name, _, value = lines[index].partition(":")
        headers.append((name.strip(), value.strip()))
        index += 1
    body = "\n".join(lines[index:]).strip() or None
    return HttpExample(
        header.group(1), int(header.group(2)), method, url.strip(), tuple(headers), body
    )


def parse(text: str) -> Examples:
    http: list[HttpExample] = []
    signals: list[tuple[str, str]] = []
    queries: list[str] = []
    for language, info, content in _BLOCK.findall(text):
        if language == "http":
            http.append(parse_http(content))
        elif language == "json" and (found := re.search(r"signal=(\w+)", info)):
            signals.append((found.group(1), content.strip()))
        elif language == "sql":
            queries.append(content.strip())
    return Examples(tuple(http), tuple(signals), tuple(queries))


def manuals() -> dict[str, Examples]:
    return {name: parse((DOCS / name).read_text(encoding="utf-8")) for name in MANUALS}


def test_both_manuals_hold_the_same_examples() -> None:
    found = manuals()
    english, chinese = found["manual.en.md"], found["manual.zh-CN.md"]
    assert english == chinese
    assert len(english.http) >= 20
    assert english.signals
    assert english.queries
    # Every path opens its own case first (or needs none).
    seen: set[str] = set()
    for example in english.http:
        if example.path_name not in seen and "{case}" in example.url:
            raise AssertionError(f"path {example.path_name} uses {{case}} before opening one")
        seen.add(example.path_name)


def test_a_changed_status_is_caught() -> None:
    """The parser reads the expected status, so a wrong one would fail the run."""
    example = parse_http("# path: x · expect: 409\nPOST /v1/cases/{case}/reply\n\n{}")
    assert (example.expect, example.method, example.url) == (409, "POST", "/v1/cases/{case}/reply")


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


async def _send(api: ApiStack, example: HttpExample, values: dict[str, str]) -> Any:
    headers = {name: _fill(value, values) for name, value in example.headers}
    body = json.loads(_fill(example.body, values)) if example.body is not None else None
    response = await api.http.request(
        example.method, _fill(example.url, values), json=body, headers=headers
    )
    assert response.status_code == example.expect, (
        f"{example.method} {example.url} ({example.path_name}): expected {example.expect},"
        f" got {response.status_code}: {response.text}"
    )
    return response.json() if "json" in response.headers.get("content-type", "") else None


@pytest.mark.parametrize("api_database_url", ["sqlite"], indirect=True)
async def test_every_example_runs_as_documented(api: ApiStack) -> None:
    examples = manuals()["manual.en.md"]
    tokens = {label: api.tokens[label] for label in ("frontline", "agent", "supervisor", "cards")}
    cases: dict[str, str] = {}
    by_path: dict[str, list[HttpExample]] = {}
    for example in examples.http:
        by_path.setdefault(example.path_name, []).append(example)

    async def run_path(name: str, path: list[HttpExample]) -> None:
        for example in path:
            values = {**tokens, **({"case": cases[name]} if name in cases else {})}
            answer = await _send(api, example, values)
            if example.method == "POST" and example.url == "/v1/cases" and example.expect == 201:
                cases[name] = answer["case_id"]

    await asyncio.gather(*(run_path(name, path) for name, path in by_path.items()))

    # The supervisor's signals, on the console path's case, as the Web UI sends them.
    handle = api.client.get_workflow_handle(case_workflow_id(cases["console"]))
    state = (await api.get("supervisor", f"/v1/cases/{cases['console']}")).json()
    for name, payload in examples.signals:
        # One at a time, as a supervisor sends them: each recorded before the next.
        before = len(state["timeline"])
        await handle.signal(name, json.loads(payload))
        async with asyncio.timeout(30):
            while len(state["timeline"]) <= before:
                await asyncio.sleep(0.2)
                state = (await api.get("supervisor", f"/v1/cases/{cases['console']}")).json()
    rejected = [e for e in state["timeline"] if e["type"] == "signal_rejected"]
    assert rejected == [], [(e["detail"], e["data"]) for e in rejected]

    # The saved Web UI queries are valid on the server.
    for query in examples.queries:
        await api.client.count_workflows(query)
