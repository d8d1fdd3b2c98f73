"""The generated staff documentation is current and complete.

``docs/flowcharts.md`` and ``docs/reference.md`` are generated from the code; a change
to the transition table, the routes, the policy files or the settings that is not
regenerated (``python -m docs_gen.flowcharts``, ``python -m docs_gen.reference``)
fails here.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from contracts.case import CaseKind
from docs_gen import flowcharts, reference
from settings.app import Settings
from workflows.rules.transitions import TRANSITIONS

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("module", [flowcharts, reference], ids=["flowcharts", "reference"])
def test_committed_file_is_current(module: ModuleType) -> None:
    name = module.NAME
    committed = (DOCS / name).read_text(encoding="utf-8")
    generated = module.render()
    assert committed == generated, f"docs/{name} is out of date: run python -m docs_gen." + (
        Path(name).stem
    )


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("docs_gen.common.DOCS", tmp_path)
    (tmp_path / flowcharts.NAME).write_text("stale\n", encoding="utf-8")
    assert flowcharts.main(["--check"]) == 1
    assert flowcharts.main([]) == 0
    assert flowcharts.main(["--check"]) == 0


def test_every_transition_is_an_edge_of_its_chart() -> None:
    charts = {kind: flowcharts.stage_chart(kind) for kind in CaseKind}
    edges = {
        kind: set(re.findall(r"^\s+(\w+) --> (\w+): (\w+)", chart, re.MULTILINE))
        for kind, chart in charts.items()
    }
    for t in TRANSITIONS:
        for source in t.sources:
            assert (source.value, t.target.value, t.action.value) in edges[t.kind]
    # And nothing else: one edge per (source, transition), plus intake and the end.
    for kind in CaseKind:
        listed = sum(len(t.sources) for t in TRANSITIONS if t.kind is kind)
        assert charts[kind].count(" --> ") == listed + 2


def test_clock_chart_climbs_the_policy_ladder() -> None:
    text = (Path(__file__).resolve().parent.parent / "policy" / "default.toml").read_text()
    ladder = tomllib.loads(text)["escalation"]["ladder"]
    chart = flowcharts.clock_chart()
    assert f"breached --> {ladder[0]}" in chart
    for lower, upper in itertools.pairwise(ladder):
        assert f"{lower} --> {upper}" in chart


def test_every_setting_and_policy_key_is_described() -> None:
    text = reference.render()
    for field in Settings.model_fields.values():
        assert field.description, f"{field.alias} has no description"
        assert f"| {field.alias} |" in text
    rows = [line for line in text.splitlines() if line.startswith("| `") or "| [" in line]
    empty = [row for row in rows if row.rstrip().endswith("|  |")]
    assert empty == []
    # Every key of the built-in files is listed.
    for file, prefix in (("default.toml", ""), ("crisis.toml", ""), ("reports.toml", "")):
        data = tomllib.loads((Path(reference.ROOT) / "policy" / file).read_text())
        for key, value in data.items():
            if not isinstance(value, (dict, list)) or (
                isinstance(value, list) and value and not isinstance(value[0], dict)
            ):
                assert f"| `{prefix}{key}` |" in text, f"{file}: {key} not listed"
