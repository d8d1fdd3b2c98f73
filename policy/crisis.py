"""Load the crisis-response rules (``crisis.toml``): detection rules and incident
clocks as data, versioned, refused at load with the key at fault named."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from contracts.crisis import Severity
from policy.loader import _content_hash, _describe, _duration

__all__ = [
    "CrisisRules",
    "CrisisRulesError",
    "Severity",
    "load_crisis_rules",
]

BUILT_IN = "built-in crisis.toml"
SCOPE_COLUMNS = ("category", "product", "channel", "department", "kind")


class CrisisRulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the key."""


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"must be longer than zero, got {value}")
    return value


def _iso(value: object) -> timedelta:
    return _duration(value)


Duration = Annotated[timedelta, Field(), AfterValidator(_positive)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
ScopeColumn = Literal["category", "product", "channel", "department", "kind"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SurgeRule(_Table):
    event_types: Annotated[list[Code], Field(min_length=1)]
    kinds: list[Code] = Field(default_factory=list)
    window: Duration
    baseline_weeks: Annotated[int, Field(ge=1, le=52)]
    min_expected: Annotated[float, Field(gt=0)]
    min_count: Annotated[int, Field(ge=1)]
    p_value: Annotated[float, Field(gt=0, lt=1)]
    scopes: Annotated[list[Annotated[list[ScopeColumn], Field(min_length=1)]], Field(min_length=1)]
    severity: Severity


class BreachStormRule(_Table):
    window: Duration
    overall: Annotated[int, Field(ge=1)] | None = None
    per_department: Annotated[int, Field(ge=1)] | None = None
    severity: Severity


class WatchListRule(_Table):
    categories: list[Code]
    severity: Severity


class UpdateCadence(_Table):
    critical: Duration
    high: Duration
    medium: Duration

    def of(self, severity: Severity) -> timedelta:
        cadence: timedelta = getattr(self, severity.value)
        return cadence


class IncidentRules(_Table):
    acknowledge_within: Duration
    ladder: Annotated[list[Code], Field(min_length=1)]
    commander_role: Code
    holding_batch: Annotated[int, Field(ge=1, le=500)]
    holding_pause: Annotated[timedelta, Field()]
    update_every: UpdateCadence


class CrisisRules(_Table):
    """The whole file. ``version`` is the file's own plus a hash of its content."""

    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    evaluate_every: Duration
    late_allowance: Duration
    surge: SurgeRule | None = None
    breach_storm: BreachStormRule | None = None
    watch_list: WatchListRule | None = None
    incident: IncidentRules


_DURATION_KEYS = {
    (): ("evaluate_every", "late_allowance"),
    ("surge",): ("window",),
    ("breach_storm",): ("window",),
    ("incident",): ("acknowledge_within", "holding_pause"),
    ("incident", "update_every"): ("critical", "high", "medium"),
}


def _convert(data: dict[str, object]) -> dict[str, object]:
    """ISO 8601 strings to timedeltas, naming the key when one is not a duration."""
    out: dict[str, object] = dict(data)
    for path, keys in _DURATION_KEYS.items():
        node: dict[str, object] = out
        parents: list[dict[str, object]] = []
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict):
                node = {}
                break
            parents.append(node)
            copied = dict(child)
            node[part] = copied
            node = copied
        for key in keys:
            if key in node:
                try:
                    node[key] = _iso(node[key])
                except ValueError as err:
                    where = ".".join((*path, key))
                    raise CrisisRulesError(f"{where}: {err}") from None
    return out


def parse_crisis_rules(content: bytes, source: str) -> CrisisRules:
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise CrisisRulesError(f"{source}: not UTF-8 text: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise CrisisRulesError(f"{source}: not valid TOML: {err}") from err
    try:
        converted = _convert(data)
    except CrisisRulesError as err:
        raise CrisisRulesError(f"{source}: {err}") from None
    try:
        rules = CrisisRules.model_validate(converted)
    except PydanticValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        raise CrisisRulesError(f"{source}: {problems}") from err
    return rules.model_copy(update={"version": f"{rules.version}+{_content_hash(data)}"})


def load_crisis_rules(path: Path | None) -> CrisisRules:
    """The rules in ``path``, or the built-in ``crisis.toml`` when ``path`` is None.

    Cached by path and modification time: an edited file is read at the next
    evaluation without a worker restart.
    """
    if path is None:
        return _built_in()
    try:
        stat = path.stat()
    except OSError as err:
        raise CrisisRulesError(f"crisis rules file {path}: cannot be read: {err.strerror}") from err
    return _load_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1)
def _built_in() -> CrisisRules:
    content = resources.files("policy").joinpath("crisis.toml").read_bytes()
    return parse_crisis_rules(content, BUILT_IN)


@lru_cache(maxsize=16)
def _load_file(path: str, mtime_ns: int, size: int) -> CrisisRules:
    try:
        content = Path(path).read_bytes()
    except OSError as err:
        raise CrisisRulesError(f"crisis rules file {path}: cannot be read: {err.strerror}") from err
    return parse_crisis_rules(content, f"crisis rules file {path}")
