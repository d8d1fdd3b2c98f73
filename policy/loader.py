"""Load the deadline policy file and resolve it for one case (docs/architecture.md, rule 5).

The file is TOML (see ``default.toml``, shipped with the package and used when no file
is configured). It is checked completely when loaded, every kind and priority
resolved once, so a bad file is refused at intake with the key at fault named, never
half-applied to a running case.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import tomllib
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from calendars import CalendarError, check_calendar, zone
from contracts.case import CaseKind, Priority
from contracts.policy import (
    PLAN_CLOCKS,
    ClockName,
    ClockRule,
    RegulatorExtension,
    RegulatorRegime,
    RegulatorRules,
    ReportingPeriod,
    ResolvedPolicy,
    TimeBand,
)
from policy.taxonomies import TaxonomyError, load_taxonomy

__all__ = [
    "PolicyDocument",
    "PolicyError",
    "PolicyOverride",
    "PolicyRules",
    "load_policy_document",
    "load_policy_preset",
    "parse_iso_duration",
    "policy_presets",
    "resolve_policy",
]

BUILT_IN = "built-in default.toml"
_HASH_LENGTH = 10


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


# --- ISO 8601 durations ----------------------------------------------------------------

_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_CALENDAR_UNITS = re.compile(r"P\d+[YM].*")


def parse_iso_duration(text: str) -> timedelta:
    """``PnW`` / ``PnDTnHnMnS`` as a timedelta; years and months are refused because
    their length varies (write days), and so is anything that is not ISO 8601."""
    match = _ISO_DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        if _CALENDAR_UNITS.fullmatch(text):
            raise ValueError(
                f"not an ISO-8601 duration of fixed length: {text!r} "
                "(years and months vary; write days, e.g. 'P30D')"
            )
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)


def _duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f"not an ISO-8601 duration: {value!r}")
    return parse_iso_duration(value)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"must be longer than zero, got {value}")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError(f"must not be negative, got {value}")
    return value


def _clock(value: object) -> object:
    """A clock is written as a duration string or ``{ duration = ... }`` /
    ``{ working_days = N }``."""
    if isinstance(value, str):
        return ClockRule(duration=parse_iso_duration(value))
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"duration", "working_days"})
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} (a clock is a duration or {{ working_days = N }})"
            )
        if "duration" in value:
            return {**value, "duration": _duration(value["duration"])}
        return value
    raise ValueError(f"not an ISO-8601 duration or {{ working_days = N }}: {value!r}")


def _timezone(value: str) -> str:
    zone(value)
    return value


def _calendar(value: str) -> str:
    check_calendar(value)
    return value


IsoDuration = Annotated[timedelta, PlainValidator(_duration)]
Clock = Annotated[ClockRule, BeforeValidator(_clock)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
CalendarCode = Annotated[str, AfterValidator(_calendar)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Rung = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Share = Annotated[float, Field(gt=0, lt=1)]
Amount = Annotated[Decimal, Field(ge=0)]


# --- the file's shape ------------------------------------------------------------------


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClockTable(_Table):
    """``[clocks]``: one entry per clock of the plan (``ClockName``)."""

    first_response: Clock | None = None
    department_plan: Clock | None = None
    department_result: Clock | None = None
    customer_update: Clock | None = None
    investigation: Clock | None = None
    final_reply: Clock | None = None
    survey: Clock | None = None

    def rules(self) -> dict[ClockName, ClockRule]:
        """The clocks this table sets."""
        return {
            name: rule for name in PLAN_CLOCKS if (rule := getattr(self, name.value)) is not None
        }


class EscalationTable(_Table):
    ladder: Annotated[list[Rung], Field(min_length=1)] | None = None
    interval: Annotated[IsoDuration, AfterValidator(_positive)] | None = None


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]{0,39}$")]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class ExtensionTable(_Table):
    """``[[regulator.regimes.extensions]]``: the next limit, counted from receipt."""

    name: Slug
    limit: Clock
    needs_approval: bool = False
    notify_customer: bool = True
    source: Source


class RegimeTable(_Table):
    """``[[regulator.regimes]]``: a limit for some products or categories (neither
    list: every complaint an earlier regime did not take)."""

    name: Slug
    products: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    limit: Clock
    extensions: list[ExtensionTable] = Field(default_factory=list)
    source: Source


class BandTable(_Table):
    """``[[regulator.bands]]``: a band of the return, closed within ``within``."""

    name: Slug
    within: Clock


class RegulatorTable(_Table):
    """``[regulator]``: the regulator profile layered under the bank's own clocks."""

    profile: Slug
    authority: Source
    source: Source
    regimes: Annotated[list[RegimeTable], Field(min_length=1)]
    bands: list[BandTable] = Field(default_factory=list)
    periods: Annotated[list[ReportingPeriod], Field(min_length=1)]
    taxonomy: str | None = None
    summary_resolution_band: Slug | None = None

    @model_validator(mode="after")
    def _default_regime_last(self) -> RegulatorTable:
        catch_all = [i for i, r in enumerate(self.regimes) if not r.products and not r.categories]
        if not catch_all or catch_all[0] != len(self.regimes) - 1:
            raise ValueError(
                "regimes: the last regime (and only the last) must have neither products"
                " nor categories, so every complaint has a regulator's limit"
            )
        names = [r.name for r in self.regimes] + [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError("regimes and bands need distinct names")
        band = self.summary_resolution_band
        if band is not None and band not in {b.name for b in self.bands}:
            raise ValueError(f"summary_resolution_band: {band!r} is not one of the bands")
        return self


class PolicyOverride(_Table):
    """One ``[[overrides]]`` entry: applies when kind and priority match (missing = any)."""

    kind: CaseKind | None = None
    priority: Priority | None = None
    timezone: TimezoneName | None = None
    calendar: CalendarCode | None = None
    subdivision: str | None = None
    warning_share: Share | None = None
    reopen_window: Annotated[IsoDuration, AfterValidator(_not_negative)] | None = None
    remedy_approval_threshold: Amount | None = None
    currency: Currency | None = None
    clocks: ClockTable = ClockTable()
    escalation: EscalationTable = EscalationTable()

    def matches(self, kind: CaseKind, priority: Priority) -> bool:
        return self.kind in (None, kind) and self.priority in (None, priority)


class PolicyRules(_Table):
    """The whole file: every key but ``subdivision`` must be there, all clocks too."""

    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    timezone: TimezoneName
    calendar: CalendarCode
    subdivision: str | None = None
    warning_share: Share
    reopen_window: Annotated[IsoDuration, AfterValidator(_not_negative)]
    remedy_approval_threshold: Amount
    currency: Currency
    clocks: ClockTable
    escalation: EscalationTable
    # Events one run of a case may reach before it continues as new (optional).
    history_budget: Annotated[int, Field(ge=200, le=40_000)] = 10_000
    overrides: list[PolicyOverride] = Field(default_factory=list)
    # A regulator profile (policy/presets/): its clocks run beside the bank's own.
    regulator: RegulatorTable | None = None

    @model_validator(mode="after")
    def _complete(self) -> PolicyRules:
        missing = [name.value for name in PLAN_CLOCKS if name not in self.clocks.rules()]
        if missing:
            raise ValueError(f"clocks: missing {', '.join(missing)}")
        if self.escalation.ladder is None or self.escalation.interval is None:
            raise ValueError("escalation: needs both ladder and interval")
        return self


class PolicyDocument(BaseModel):
    """A loaded policy file: its rules, where it came from and its full version."""

    model_config = ConfigDict(frozen=True)

    version: str
    source: str
    rules: PolicyRules
    regulator: RegulatorRules | None = None


# --- loading ---------------------------------------------------------------------------


def load_policy_document(path: Path | None) -> PolicyDocument:
    """The policy in ``path``, or the built-in ``default.toml`` when ``path`` is None.

    Cached by path and modification time, so an edited file is read again without a
    worker restart (new cases get it; running cases keep theirs).
    """
    if path is None:
        return _load_built_in()
    try:
        stat = path.stat()
    except OSError as err:
        raise PolicyError(f"policy file {path}: cannot be read: {err.strerror}") from err
    return _load_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def load_policy_preset(name: str) -> PolicyDocument:
    """A built-in preset, ``policy/presets/<name>.toml`` (what the configuration check
    and the tests load; a bank points ``CASE_POLICY_FILE`` at the file itself)."""
    entry = resources.files("policy").joinpath("presets", f"{name}.toml")
    if not entry.is_file():
        raise PolicyError(f"no policy preset {name!r} (known: {', '.join(policy_presets())})")
    return _parse(entry.read_bytes(), f"policy preset {name}.toml", None)


def policy_presets() -> list[str]:
    """The names of the built-in regulator presets."""
    folder = resources.files("policy").joinpath("presets")
    return sorted(
        e.name.removesuffix(".toml") for e in folder.iterdir() if e.name.endswith(".toml")
    )


@lru_cache(maxsize=1)
def _load_built_in() -> PolicyDocument:
    content = resources.files("policy").joinpath("default.toml").read_bytes()
    return _parse(content, BUILT_IN, None)


@lru_cache(maxsize=16)
def _load_file(path: str, mtime_ns: int, size: int) -> PolicyDocument:
    try:
        content = Path(path).read_bytes()
    except OSError as err:
        raise PolicyError(f"policy file {path}: cannot be read: {err.strerror}") from err
    return _parse(content, f"policy file {path}", Path(path).parent / "taxonomies")


def _parse(content: bytes, source: str, taxonomies: Path | None) -> PolicyDocument:
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise PolicyError(f"{source}: not UTF-8 text: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{source}: not valid TOML: {err}") from err
    try:
        rules = PolicyRules.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(_describe(e) for e in err.errors())
        raise PolicyError(f"{source}: {problems}") from err
    regulator = _regulator(rules.regulator, source, taxonomies)
    hashed = (
        data if regulator is None else {**data, "_regulator": regulator.model_dump(mode="json")}
    )
    doc = PolicyDocument(
        version=f"{rules.version}+{_content_hash(hashed)}",
        source=source,
        rules=rules,
        regulator=regulator,
    )
    _check_every_case(doc)
    return doc


def _regulator(
    table: RegulatorTable | None, source: str, taxonomies: Path | None
) -> RegulatorRules | None:
    """The ``[regulator]`` table as the cases carry it, its taxonomy's codes included
    (a taxonomy that cannot be used is refused here, naming ``regulator.taxonomy``)."""
    if table is None:
        return None
    codes = None
    if table.taxonomy is not None:
        try:
            found = load_taxonomy(table.taxonomy, [taxonomies] if taxonomies else [])
        except TaxonomyError as err:
            raise PolicyError(f"{source}: regulator.taxonomy: {err}") from err
        codes = found.codes()
    return RegulatorRules(
        profile=table.profile,
        authority=table.authority,
        regimes=[
            RegulatorRegime(
                name=r.name,
                products=r.products,
                categories=r.categories,
                limit=r.limit,
                source=r.source,
                extensions=[
                    RegulatorExtension(
                        name=e.name,
                        limit=e.limit,
                        needs_approval=e.needs_approval,
                        notify_customer=e.notify_customer,
                        source=e.source,
                    )
                    for e in r.extensions
                ],
            )
            for r in table.regimes
        ],
        bands=[TimeBand(name=b.name, within=b.within) for b in table.bands],
        periods=table.periods,
        taxonomy=codes,
        summary_resolution_band=table.summary_resolution_band,
    )


def _content_hash(data: dict[str, Any]) -> str:
    """A hash of the parsed content: a value edit changes it, a comment edit does not."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:_HASH_LENGTH]


def _describe(error: ErrorDetails) -> str:
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f"{'.' if where else ''}{part}"
    match error["type"]:
        case "missing":
            problem = "missing"
        case "extra_forbidden" if len(error["loc"]) >= 2 and error["loc"][-2] == "clocks":
            problem = f"unknown clock (known: {', '.join(ClockName)})"
        case "extra_forbidden":
            problem = "unknown key"
        case "value_error":
            problem = str(error.get("ctx", {}).get("error", error["msg"]))
        case _:
            problem = f"{error['msg']} (got {error['input']!r})"
    return f"{where}: {problem}" if where else problem


def _check_every_case(doc: PolicyDocument) -> None:
    """Resolve every kind and priority once so that combinations no single key shows
    (an override's calendar with the file's subdivision) fail at load, not at intake."""
    for kind in CaseKind:
        for priority in Priority:
            resolved, applied = _merge(doc, kind, priority, [])
            try:
                check_calendar(resolved.calendar, resolved.subdivision)
            except CalendarError as err:
                where = (
                    f"overrides[{applied[-1]}] ({kind} {priority} cases)"
                    if applied
                    else "subdivision"
                )
                raise PolicyError(f"{doc.source}: {where}: {err}") from err


# --- resolving -------------------------------------------------------------------------


def resolve_policy(
    doc: PolicyDocument, kind: str, priority: str, departments: Sequence[str]
) -> ResolvedPolicy:
    """The policy one case runs under: the file's settings, then each matching override
    in file order (a later override wins)."""
    try:
        case_kind, case_priority = CaseKind(kind), Priority(priority)
    except ValueError as err:
        raise PolicyError(f"no policy for case kind {kind!r} and priority {priority!r}") from err
    resolved, _ = _merge(doc, case_kind, case_priority, departments)
    return resolved


# Resolved policies by document (the loader keeps one object per file version, so a
# new version is a new key) and case kind, priority and departments: every case of a
# kind resolves the same policy, and resolving (merging and validating) was a few
# milliseconds of the worker's interpreter time per case. Keyed by the document's id,
# not its value (hashing a whole document would cost what the cache saves); the
# document is kept with its entry, so an id is never reused while its entry stands.
_RESOLVED: dict[tuple[int, str, str, tuple[str, ...]], tuple[PolicyDocument, ResolvedPolicy]] = {}
_RESOLVED_LOCK = threading.Lock()  # activities run on the worker's threads
MAX_RESOLVED = 256


def resolve_policy_cached(
    doc: PolicyDocument, kind: str, priority: str, departments: tuple[str, ...]
) -> ResolvedPolicy:
    """``resolve_policy``, once per document, kind, priority and departments."""
    key = (id(doc), kind, priority, departments)
    with _RESOLVED_LOCK:
        entry = _RESOLVED.get(key)
    if entry is not None and entry[0] is doc:
        return entry[1]  # frozen: shared safely between cases
    policy = resolve_policy(doc, kind, priority, list(departments))
    with _RESOLVED_LOCK:
        if len(_RESOLVED) >= MAX_RESOLVED:
            _RESOLVED.clear()
        _RESOLVED[key] = (doc, policy)
    return policy


_SCALARS = (
    "timezone",
    "calendar",
    "subdivision",
    "warning_share",
    "reopen_window",
    "remedy_approval_threshold",
    "currency",
)


def _merge(
    doc: PolicyDocument, kind: CaseKind, priority: Priority, departments: Sequence[str]
) -> tuple[ResolvedPolicy, list[int]]:
    """The resolved policy and the indexes of the overrides that shaped it."""
    rules = doc.rules
    fields: dict[str, Any] = {name: getattr(rules, name) for name in _SCALARS}
    clocks = rules.clocks.rules()
    ladder, interval = rules.escalation.ladder, rules.escalation.interval
    applied: list[int] = []
    for index, override in enumerate(rules.overrides):
        if not override.matches(kind, priority):
            continue
        applied.append(index)
        fields.update(
            {name: value for name in _SCALARS if (value := getattr(override, name)) is not None}
        )
        clocks.update(override.clocks.rules())
        if override.escalation.ladder is not None:
            ladder = override.escalation.ladder
        if override.escalation.interval is not None:
            interval = override.escalation.interval
    resolved = ResolvedPolicy.model_validate(
        {
            **fields,
            "version": doc.version,
            "clocks": clocks,
            "escalation_ladder": ladder,
            "escalation_interval": interval,
            "history_budget": rules.history_budget,
            "departments": list(departments),
            "regulator": doc.regulator,
        }
    )
    return resolved, applied
