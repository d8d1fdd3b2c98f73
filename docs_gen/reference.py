"""The operations guide's reference part, generated from the models.

Environment variables come from ``settings.app.Settings`` (alias, default, type, the
field's description), plus every ``CASE_*``/``TEMPORAL_*`` name the product reads
elsewhere (found in its source). Policy keys come from the models that load the data
files (``policy.loader.PolicyRules``, ``policy.crisis.CrisisRules``,
``contracts.reports.ReportRules``); their defaults are the built-in files' values and
their descriptions the files' own comments.

``python -m docs_gen.reference`` writes ``docs/reference.md``; ``--check`` only says
whether the committed file is current.
"""

from __future__ import annotations

import re
import tomllib
import types
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from contracts.policy import ClockRule
from contracts.reports import ReportRules
from docs_gen.common import run
from policy.crisis import CrisisRules
from policy.loader import PolicyRules
from settings.app import Settings

NAME = "reference.md"
ROOT = Path(__file__).resolve().parent.parent
# The product's own packages, scanned for variables read outside ``Settings``.
SOURCES = (
    "api",
    "activities",
    "codec",
    "contracts",
    "ops",
    "policy",
    "preflight",
    "settings",
    "stack",
    "store",
    "workflows",
    "worker.py",
)
# Keys the built-in files leave without a comment of their own.
FALLBACK: dict[str, str] = {
    "version": "the file's version; recorded, with a hash of the file's content, on every"
    " case (or incident) it governs",
    "subdivision": "a region of the calendar (a province's own holidays); absent: the whole"
    " country",
    "clocks": "one entry per clock: an ISO 8601 duration or `{ working_days = N }`",
    "overrides": "applied in file order after the settings above, to the cases whose kind"
    " and priority match (a later override wins)",
    "overrides.kind": "the case kind this override applies to (absent: any)",
    "overrides.priority": "the case priority this override applies to (absent: any)",
    "incident": "the incident's clocks and escalation",
    "incident.ladder": "the roles an unacknowledged incident, or a missed status update,"
    " escalates to, in order",
    "incident.holding_pause": "the pause between two batches of holding messages",
    # The regulator profile of a preset (policy/presets/); absent from default.toml.
    "regulator": "a regulator profile (R9), layered under the bank's own clocks: see"
    " `policy/presets/`; absent: the plan's clocks alone",
    "regulator.profile": "the profile's name, as in `/v1/reports/regulatory/{profile}/...`",
    "regulator.authority": "the regulator, as the returns name it",
    "regulator.source": "the rule the profile comes from, with its date",
    "regulator.regimes": "the regulator's limit for some products or categories; the last"
    " regime (neither list) takes every other complaint",
    "regulator.regimes.name": "the regime's name, recorded on each complaint",
    "regulator.regimes.products": "the products this regime applies to",
    "regulator.regimes.categories": "the categories this regime applies to",
    "regulator.regimes.limit": "the regulator's first limit for the final response, from"
    " receipt (the `regulator_reply` clock)",
    "regulator.regimes.extensions": "the extensions the rule allows, in order, each granted"
    " by `extend_regulator_clock`",
    "regulator.regimes.extensions.name": "the extension's name, as the action names it",
    "regulator.regimes.extensions.limit": "the new limit, counted from receipt",
    "regulator.regimes.extensions.needs_approval": "whether a senior approver other than the"
    " requester must be named",
    "regulator.regimes.extensions.notify_customer": "whether the customer is told the new date",
    "regulator.regimes.extensions.source": "the rule's clause for this extension",
    "regulator.regimes.source": "the rule's clause for this limit",
    "regulator.bands": "the periodic return's time bands, in order (a complaint closed"
    " after the last is `later`)",
    "regulator.bands.name": "the band's name in the return",
    "regulator.bands.within": "closed within this time of receipt",
    "regulator.summary_resolution_band": "a final reply sent within this band is a summary"
    " resolution communication (DISP 1.5.4R), not a final response",
    "regulator.periods": "the periods the return covers (month, quarter, half_year)",
    "regulator.taxonomy": "the complaint taxonomy (`policy/taxonomies/<id>.toml`, or"
    " `taxonomies/<id>.toml` beside the policy file) every final reply is classified by",
}
_ENV_NAME = re.compile(r"[\"']((?:CASE|TEMPORAL)_[A-Z0-9_]+)[\"']")


def type_name(annotation: Any) -> str:
    """A reader's name for a field's type."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner = " or ".join(type_name(a) for a in args)
        return f"{inner} (optional)" if len(args) < len(get_args(annotation)) else inner
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if origin is list:
        return f"list of {type_name(get_args(annotation)[0])}"
    if annotation is timedelta:
        return "duration (ISO 8601)"
    if annotation is ClockRule:
        return "duration or `{ working_days = N }`"
    if annotation is Decimal:
        return "decimal (string)"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    if isinstance(annotation, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- environment variables --------------------------------------------------------------


def _setting_default(value: Any) -> str:
    if value is None or value is PydanticUndefined:
        return "unset"
    return f"`{value}`"


def settings_rows() -> list[tuple[str, str, str, str]]:
    """(variable, default, type, description) for every ``Settings`` field."""
    rows = []
    for field in Settings.model_fields.values():
        assert field.alias is not None, "every setting is read from a named variable"
        rows.append(
            (
                field.alias,
                _setting_default(field.default),
                type_name(field.annotation),
                field.description or "",
            )
        )
    return rows


def other_variables() -> dict[str, list[str]]:
    """Variables the product reads outside ``Settings``, each with where it is read."""
    known = {field.alias for field in Settings.model_fields.values()}
    found: dict[str, set[str]] = {}
    for top in SOURCES:
        base = ROOT / top
        paths = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in paths:
            for name in _ENV_NAME.findall(path.read_text(encoding="utf-8")):
                if name not in known:
                    found.setdefault(name, set()).add(top.removesuffix(".py"))
    return {name: sorted(where) for name, where in sorted(found.items())}


# --- policy keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class Comments:
    """Each key's comment in a TOML file, by dotted path (tables by their own path)."""

    by_key: dict[str, str]

    @classmethod
    def of(cls, text: str) -> Comments:
        by_key: dict[str, str] = {}
        table: list[str] = []
        paragraph: str | None = None
        block: list[str] = []
        block_opens_paragraph = True
        previous = "blank"
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                paragraph, block, previous = None, [], "blank"
                continue
            if line.startswith("#"):
                if previous != "comment":
                    block, block_opens_paragraph = [], previous == "blank"
                block.append(line.lstrip("#").strip())
                previous = "comment"
                continue
            own = " ".join(block) if block else None
            if own is not None and block_opens_paragraph:
                paragraph = own
            block = []
            header = re.fullmatch(r"\[\[?([A-Za-z0-9_.]+)\]\]?", line)
            if header:
                table = header.group(1).split(".")
                paragraph = own or paragraph
                by_key.setdefault(".".join(table), paragraph or "")
                previous = "key"
                continue
            key, _, rest = line.partition("=")
            inline = rest.split("#", 1)[1].strip() if "#" in rest else None
            path = ".".join([*table, key.strip()])
            by_key.setdefault(path, inline or own or paragraph or "")
            previous = "key"
        return cls(by_key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_of(get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        for arg in get_args(annotation):
            if (found := _model_of(arg)) is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def policy_rows(
    model: type[BaseModel], data: dict[str, Any], comments: Comments, prefix: str = ""
) -> list[tuple[str, str, str, str]]:
    """(key, built-in value, type, description) for every key of ``model``, nested
    tables as dotted keys; a list of tables (``[[overrides]]``) listed once."""
    rows: list[tuple[str, str, str, str]] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _model_of(field.annotation)
        is_list = get_origin(field.annotation) is list
        if nested is not None and nested is not ClockRule:
            label = f"[[{path}]]" if is_list else f"[{path}]"
            note = _describe(path, comments)
            rows.append((label, "", "list of tables" if is_list else "table", note))
            inner = data.get(name)
            if is_list:
                inner = inner[0] if isinstance(inner, list) and inner else {}
            rows += policy_rows(
                nested,
                inner if isinstance(inner, dict) else {},
                comments,
                prefix=f"{path}.",
            )
            continue
        if name in data:
            value = f"`{_toml_value(data[name])}`"
        elif field.default is not PydanticUndefined and field.default is not None:
            value = f"`{field.default}` (when absent)"
        elif field.is_required():
            value = "required"
        else:
            value = "absent"
        description = _describe(path, comments)
        rows.append((f"`{path}`", value, type_name(field.annotation), description))
    return rows


def _describe(path: str, comments: Comments) -> str:
    """A key's meaning: its own comment; for an override's key, the top-level key's."""
    if path in FALLBACK:
        return FALLBACK[path]
    if path.startswith("overrides."):
        return _describe(path.removeprefix("overrides."), comments)
    return comments.by_key.get(path, "")


def _file_rows(model: type[BaseModel], file: str) -> list[tuple[str, str, str, str]]:
    text = (ROOT / "policy" / file).read_text(encoding="utf-8")
    return policy_rows(model, tomllib.loads(text), Comments.of(text))


def _table(header: tuple[str, ...], rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render() -> str:
    """The whole of ``docs/reference.md``."""
    others = other_variables()
    other_lines = [
        f"| `{name}` | {', '.join(f'`{w}/`' for w in where)} |" for name, where in others.items()
    ]
    key_header = ("key", "built-in value", "type", "meaning (the file's comment)")
    parts = [
        "# Reference: environment variables and policy keys",
        "",
        "Generated by `python -m docs_gen.reference` from `settings/app.py` (`Settings`),"
        " the policy models (`policy/loader.py`, `policy/crisis.py`, `contracts/reports.py`)"
        " and the built-in files under `policy/`. Do not edit by hand:"
        " `tests/test_docs_gen.py` fails when this file differs from what the code"
        " generates. How to run the product is in `operations.md`.",
        "",
        "## Environment variables (`Settings`)",
        "",
        "Read by the worker, the API and `ops.setup` at start; a bad value stops the"
        " process naming the variable.",
        "",
        _table(("variable", "default", "type", "meaning"), settings_rows()),
        "",
        "## Other environment variables",
        "",
        "Read outside `Settings`: `make run`'s launcher (`stack/`), Temporal's own client"
        " configuration (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`,"
        " `TEMPORAL_PROFILE`, read by the SDK's `envconfig`), the report thresholds file."
        " Their meaning and defaults are in the README's `make run` table.",
        "",
        "| variable | read in |",
        "|---|---|",
        *other_lines,
        "",
        "## Deadline policy (`policy/default.toml`, `CASE_POLICY_FILE`)",
        "",
        "An override (`[[overrides]]`) matches by `kind` and `priority` and may set any key"
        " above except `version`.",
        "",
        _table(key_header, _file_rows(PolicyRules, "default.toml")),
        "",
        "## Crisis rules (`policy/crisis.toml`, `CASE_CRISIS_FILE`)",
        "",
        _table(key_header, _file_rows(CrisisRules, "crisis.toml")),
        "",
        "## Report thresholds (`policy/reports.toml`, `CASE_REPORTS_FILE`)",
        "",
        _table(key_header, _file_rows(ReportRules, "reports.toml")),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    return run(NAME, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
