"""The layers depend one way (docs/architecture.md): a small scan of every import.

Each top-level package may import only the packages listed for it below, no module
imports itself round in a circle, and nothing but the launcher and the benchmark
imports ``stack``. The scan reads the source with ``ast``, so an import inside a
function or under ``TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts import crisis, improvement, reports
from contracts.activities import CASE_ACTIVITIES, ActivityRef
from worker import ACTIVITIES

ROOT = Path(__file__).resolve().parent.parent

# Which of the project's packages each one may import (besides itself). The order of
# this table is the order of the layers, from the top down.
ALLOWED: dict[str, frozenset[str]] = {
    "bench": frozenset(
        {"stack", "api", "workflows", "activities", "store", "policy", "calendars"}
        | {"settings", "codec", "contracts", "worker", "ops", "preflight"}
    ),
    "docs_gen": frozenset({"api", "workflows", "policy", "settings", "contracts"}),
    "stack": frozenset(
        {"ops", "preflight", "store", "policy", "settings", "codec", "contracts", "calendars"}
    ),
    "ops": frozenset({"workflows", "store", "policy", "settings", "codec", "contracts"}),
    "worker": frozenset(
        {"workflows", "activities", "preflight", "store", "settings", "codec", "contracts", "ops"}
    ),
    "api": frozenset(
        {"workflows", "preflight", "store", "policy", "settings", "codec", "contracts"}
    ),
    "workflows": frozenset({"policy", "contracts"}),
    "activities": frozenset({"store", "policy", "calendars", "settings", "codec", "contracts"}),
    "preflight": frozenset({"policy", "settings", "codec", "contracts", "calendars"}),
    "store": frozenset({"settings", "contracts"}),
    "codec": frozenset({"settings"}),
    "policy": frozenset({"calendars", "contracts"}),
    "calendars": frozenset(),
    "settings": frozenset(),
    "contracts": frozenset(),
}
PACKAGES = frozenset(ALLOWED)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the product (tests and migrations' generated files aside)."""
    found: dict[str, Path] = {}
    for top in sorted(PACKAGES):
        single = root / f"{top}.py"
        paths = [single] if single.exists() else sorted((root / top).rglob("*.py"))
        for path in paths:
            if "migrations" not in path.relative_to(root).parts:
                found[_module_name(path, root)] = path
    return found


def imports_of(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of the project's own modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def direction_violations(root: Path = ROOT) -> list[str]:
    """Imports that point up or sideways against ``ALLOWED``."""
    problems = []
    for module, path in project_modules(root).items():
        top = module.split(".")[0]
        for line, target in imports_of(path, module):
            other = target.split(".")[0]
            if other in PACKAGES and other != top and other not in ALLOWED[top]:
                problems.append(f"{path.relative_to(root)}:{line}: {top} imports {target}")
    return sorted(set(problems))


def module_cycles(root: Path = ROOT) -> list[list[str]]:
    """Circles of imports between the project's modules (each reported once)."""
    modules = project_modules(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        for _, target in imports_of(path, module):
            # ``from a.b import c`` names the module a.b.c if there is one, else a.b.
            if target in modules and target != module:
                graph[module].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_every_package_is_in_the_layer_table() -> None:
    tops = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    tops -= {"tests"}
    assert tops <= PACKAGES, f"add to ALLOWED (and docs/architecture.md): {tops - PACKAGES}"


def test_imports_follow_the_layers() -> None:
    assert direction_violations() == []


def test_no_module_imports_itself_in_a_circle() -> None:
    assert module_cycles() == []


def test_only_the_launcher_and_the_benchmark_import_stack() -> None:
    importers = {
        module.split(".")[0]
        for module, path in project_modules().items()
        for _, target in imports_of(path, module)
        if target.split(".")[0] == "stack"
    }
    assert importers <= {"stack", "bench"}


@pytest.fixture
def tangled_tree(tmp_path: Path) -> Path:
    """A copy of two layers with the kind of import this test exists to stop."""
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "__init__.py").write_text("")
    (tmp_path / "contracts" / "case.py").write_text("from workflows.case import X\n")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "__init__.py").write_text("")
    (tmp_path / "workflows" / "case.py").write_text("from contracts.case import Y\nX = 1\n")
    return tmp_path


def test_the_scan_catches_an_upward_import_and_its_circle(tangled_tree: Path) -> None:
    """The checks above can fail: a contract that imports a workflow breaks both."""
    assert direction_violations(tangled_tree) == [
        "contracts/case.py:1: contracts imports workflows.case",
        "contracts/case.py:1: contracts imports workflows.case.X",
    ]
    assert module_cycles(tangled_tree) == [["contracts.case", "workflows.case", "contracts.case"]]


def test_the_worker_registers_every_activity_the_workflow_calls() -> None:
    """The workflow calls activities by name (``contracts.activities``); the worker
    must register a function under each of those names."""
    registered = {getattr(fn, "__temporal_activity_definition").name for fn in ACTIVITIES}
    refs = [
        v
        for m in (crisis, reports, improvement)
        for v in vars(m).values()
        if isinstance(v, ActivityRef)
    ]
    called = {ref.name for ref in [*CASE_ACTIVITIES, *refs]}
    assert called | {crisis.LOAD_INCIDENT_RULES_NAME} <= registered


# What workflow code may import: the standard library's pure parts, the SDK's workflow
# API, pydantic and the project's own decision layers. A production worker runs the
# workflows outside the SDK's sandbox (``CASE_WORKER_SANDBOX``), so nothing with I/O,
# a clock or threads may come in by import (docs/architecture.md, rule 11).
WORKFLOW_IMPORTS = frozenset(
    {
        "__future__",
        "asyncio",
        "collections",
        "contextlib",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "functools",
        "hashlib",
        "re",
        "types",
        "typing",
        "pydantic",
        "temporalio",
        "contracts",
        "policy",
        "workflows",
    }
)
# The sandbox runner is the worker's code, not workflow code.
NOT_WORKFLOW_CODE = {"workflows/sandbox.py"}


def disallowed_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import in ``source`` that workflow code may not make."""
    names: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
    return sorted(
        (line, name)
        for line, name in names
        if name.split(".")[0] not in WORKFLOW_IMPORTS
        or name.startswith(("temporalio.worker", "temporalio.client", "temporalio.testing"))
    )


def test_workflow_code_imports_nothing_with_io_clocks_or_threads() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted((ROOT / "workflows").rglob("*.py"))
        if str(path.relative_to(ROOT)) not in NOT_WORKFLOW_CODE
        for line, name in disallowed_imports(path.read_text("utf-8"))
    ]
    assert found == []


def test_the_workflow_import_check_finds_a_clock_and_a_client() -> None:
    source = "import time\nfrom temporalio.client import Client\nfrom datetime import date\n"
    assert disallowed_imports(source) == [(1, "time"), (2, "temporalio.client")]
