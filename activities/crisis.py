"""Crisis detection and the incidents' side effects (R8).

``evaluate_crisis_rules`` counts the register's events against the rules file; the
rest act on Temporal (start or join an incident, link and message member cases
through the cases' own updates) or write the register. Each is safe to retry: the
incident's member list is a set, each case applies an incident's action once, and
every row is written with its natural key.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contracts.actions import JoinIncidentInput, SendIncidentHoldingInput
from contracts.activities import StaffAlertKind
from contracts.case import case_workflow_id
from contracts.crisis import (
    ADD_MEMBERS,
    INCIDENT_WORKFLOW,
    AddMembersInput,
    BatchResult,
    EvaluationInput,
    EvaluationResult,
    Firing,
    HoldingBatchInput,
    Impact,
    IncidentRef,
    IncidentStaffInput,
    LinkMembersInput,
    Match,
    OpenOrJoinInput,
    OpenOrJoinResult,
    RuleKind,
)
from policy.crisis import CrisisRules, CrisisRulesError, IncidentRules, load_crisis_rules
from settings import get_settings
from store import crisis as register
from store.db import session_scope
from store.idempotent import insert_once
from store.tables import StaffNotification

ACTOR = "crisis-monitor"
# Cases a batch sends at once; the incident's holding_pause spaces the batches.
CONCURRENT_UPDATES = 8
UPDATE_TIMEOUT = timedelta(seconds=30)


# --- the Poisson upper tail ----------------------------------------------------------


def poisson_upper_tail(count: int, expected: float) -> float:
    """P(X >= count) for X ~ Poisson(expected), summed upwards from ``count`` so a
    tiny tail is exact rather than 1 minus nearly 1."""
    if count <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    log_term = -expected + count * math.log(expected) - math.lgamma(count + 1)
    total = 0.0
    i = count
    while True:
        term = math.exp(log_term)
        total += term
        i += 1
        log_term += math.log(expected) - math.log(i)
        if i > expected and term < 1e-17 * max(total, 1e-300):
            break
        if i - count > 100_000:
            break
    return min(total, 1.0)


# --- words ---------------------------------------------------------------------------


def _words(code: str) -> str:
    return code.replace("_", " ")


def _window(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes == 60:
        return "hour"
    if minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"


def describe_scope(scope: dict[str, str], kinds: Sequence[str]) -> str:
    """'card fees complaints on mobile banking', 'platinum card complaints'."""
    what = " ".join(_words(scope[name]) for name in ("product", "category") if name in scope)
    noun = " and ".join(f"{k}s" for k in kinds) if kinds else "cases"
    text = f"{what} {noun}".strip()
    if "channel" in scope:
        text += f" on {_words(scope['channel'])}"
    if "department" in scope:
        text += f" in department {scope['department']}"
    return text


def _slug_key(rule: RuleKind, scope: dict[str, str]) -> str:
    values = "|".join(f"{name}={scope[name]}" for name in sorted(scope))
    return f"{rule.value}:{values}"


# --- evaluation ----------------------------------------------------------------------


def _start(now: datetime, window: timedelta, quiet: datetime | None) -> datetime:
    start = now - window
    return max(start, quiet) if quiet is not None else start


def evaluate(rules: CrisisRules, input: EvaluationInput, database_url: str) -> EvaluationResult:
    now = input.now
    active = {a.key: a for a in input.active}
    firings: list[Firing] = []
    members: dict[str, list[str]] = {}
    # Late-projected events: scan back past the last evaluation by the allowance.
    scan_from = min(input.cursor or now, now) - rules.late_allowance
    with session_scope(database_url) as session:
        if (surge := rules.surge) is not None:
            week = timedelta(days=7)
            for columns in surge.scopes:
                # One grouped count for this hour and one per trailing week: the cost
                # does not grow with the number of products or channels counted.
                current = register.count_by_scope(
                    session,
                    types=surge.event_types,
                    kinds=surge.kinds,
                    columns=columns,
                    start=now - surge.window,
                    end=now,
                    at_least=surge.min_count,
                )
                candidates = [
                    (scope, count)
                    for scope, count in current
                    if _slug_key(RuleKind.SURGE, scope) not in active
                ]
                if not candidates:
                    continue
                history: dict[tuple[str, ...], int] = {}
                for w in range(1, surge.baseline_weeks + 1):
                    for scope, count in register.count_by_scope(
                        session,
                        types=surge.event_types,
                        kinds=surge.kinds,
                        columns=columns,
                        start=now - surge.window - w * week,
                        end=now - w * week,
                    ):
                        values = tuple(scope[c] for c in columns)
                        history[values] = history.get(values, 0) + count
                for scope, count in candidates:
                    key = _slug_key(RuleKind.SURGE, scope)
                    match = Match(types=surge.event_types, kinds=surge.kinds, scope=scope)
                    start = _start(now, surge.window, input.quiet_since.get(key))
                    if key in input.quiet_since:
                        # After an incident closed, only what came since counts.
                        count = register.count_in_scope(
                            session, **match.model_dump(), start=start, end=now
                        )
                        if count < surge.min_count:
                            continue
                    past = history.get(tuple(scope[c] for c in columns), 0)
                    expected = max(past / surge.baseline_weeks, surge.min_expected)
                    p = poisson_upper_tail(count, expected)
                    if p >= surge.p_value:
                        continue
                    what = describe_scope(scope, surge.kinds)
                    firings.append(
                        Firing(
                            key=key,
                            rule=RuleKind.SURGE,
                            title=f"Surge: {what}",
                            explanation=(
                                f"{what}: {count} in the last {_window(surge.window)}, "
                                f"{expected:.0f} expected (same hour of the week over "
                                f"{surge.baseline_weeks} weeks; chance {p:.1g})"
                            ),
                            severity=surge.severity,
                            match=match,
                            since=start,
                            count=count,
                            expected=expected,
                            p_value=p,
                        )
                    )
        if (storm := rules.breach_storm) is not None:
            scopes: list[tuple[dict[str, str], int]] = []
            if storm.overall is not None:
                scopes.append(({}, storm.overall))
            if storm.per_department is not None:
                departments = register.count_by_scope(
                    session,
                    types=["clock_breached"],
                    kinds=[],
                    columns=["department"],
                    start=now - storm.window,
                    end=now,
                    at_least=storm.per_department,
                )
                scopes += [(scope, storm.per_department) for scope, _ in departments]
            for scope, threshold in scopes:
                key = _slug_key(RuleKind.BREACH_STORM, scope)
                if key in active:
                    continue
                start = _start(now, storm.window, input.quiet_since.get(key))
                match = Match(types=["clock_breached"], scope=scope)
                count = register.count_in_scope(session, **match.model_dump(), start=start, end=now)
                if count < threshold:
                    continue
                where = f" in department {scope['department']}" if scope else ""
                firings.append(
                    Firing(
                        key=key,
                        rule=RuleKind.BREACH_STORM,
                        title=f"Breach storm{where}",
                        explanation=(
                            f"{count} deadlines missed{where} in the last "
                            f"{_window(storm.window)} (threshold {threshold})"
                        ),
                        severity=storm.severity,
                        match=match,
                        since=start,
                        count=count,
                    )
                )
        if (watch := rules.watch_list) is not None:
            for category in watch.categories:
                scope = {"category": category}
                key = _slug_key(RuleKind.WATCH_LIST, scope)
                if key in active:
                    continue
                quiet = input.quiet_since.get(key)
                start = max(scan_from, quiet) if quiet is not None else scan_from
                match = Match(types=["opened"], scope=scope)
                count = register.count_in_scope(session, **match.model_dump(), start=start, end=now)
                if count == 0:
                    continue
                firings.append(
                    Firing(
                        key=key,
                        rule=RuleKind.WATCH_LIST,
                        title=f"Watch list: {_words(category)}",
                        explanation=(
                            f"{count} {_words(category)} case{'s' if count != 1 else ''} "
                            "opened; this category opens an incident at the first case"
                        ),
                        severity=watch.severity,
                        match=match,
                        since=start,
                        count=count,
                    )
                )
        for firing in firings:
            members[firing.key] = register.matching_cases(
                session, **firing.match.model_dump(), start=firing.since, end=now
            )
        for incident in active.values():
            ids = register.matching_cases(
                session,
                **incident.match.model_dump(),
                start=max(incident.since, scan_from),
                end=now,
                not_in_incident=incident.incident_id,
            )
            if ids:
                members[incident.key] = ids
    return EvaluationResult(
        rules_version=rules.version,
        evaluate_every=rules.evaluate_every,
        firings=firings,
        members=members,
    )


def _rules() -> CrisisRules:
    try:
        return load_crisis_rules(get_settings().crisis_file)
    except CrisisRulesError as err:
        raise ApplicationError(str(err), type="InvalidCrisisRules", non_retryable=True) from err


@activity.defn(name="evaluate_crisis_rules")
def evaluate_crisis_rules(input: EvaluationInput) -> EvaluationResult:
    """Count the register's events against the rules; new firings and new members."""
    return evaluate(_rules(), input, get_settings().database_url)


@activity.defn(name="load_incident_rules")
def load_incident_rules() -> IncidentRules:
    """The incident clocks of the rules file, so they land in the incident's history."""
    return _rules().incident


# --- Temporal side: incidents and their member cases ---------------------------------


@activity.defn(name="open_or_join_incident")
async def open_or_join_incident(input: OpenOrJoinInput) -> OpenOrJoinResult:
    """Signal-with-start: start the incident unless it runs, then hand it the cases.

    The workflow ID is the monitor's own (rule, scope and generation), so a retry or
    a second monitor run joins the same incident. A closed incident is never started
    again under its ID: the monitor then opens the next generation.
    """
    client = activity.client()
    try:
        await client.start_workflow(
            INCIDENT_WORKFLOW,
            input.open,
            id=input.open.incident_id,
            task_queue=activity.info().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=ADD_MEMBERS,
            start_signal_args=[AddMembersInput(case_ids=input.case_ids, actor=ACTOR)],
            static_summary=input.open.title[:200],
            static_details=input.open.explanation,
        )
    except WorkflowAlreadyStartedError:
        return OpenOrJoinResult(status="closed")
    return OpenOrJoinResult(status="open")


def _already(err: WorkflowUpdateFailedError) -> bool:
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type == "AlreadyApplied"


async def _each_case(
    case_ids: Sequence[str], send: Callable[[Client, str], Awaitable[None]]
) -> BatchResult:
    """Send one update per case, a few at a time. Applied, or applied by an earlier
    attempt (AlreadyApplied), counts as done; a case that refuses (closed for good,
    not found, not fitting) is skipped and counted."""
    client = activity.client()
    gate = asyncio.Semaphore(CONCURRENT_UPDATES)
    done = skipped = 0

    async def one(case_id: str) -> None:
        nonlocal done, skipped
        async with gate:
            try:
                await send(client, case_id)
                done += 1
            except WorkflowUpdateFailedError as err:
                if _already(err):
                    done += 1
                else:
                    activity.logger.info("case %s refused: %s", case_id, err.cause)
                    skipped += 1
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                skipped += 1  # no such case, or its workflow has completed

    await asyncio.gather(*(one(case_id) for case_id in case_ids))
    activity.heartbeat()
    return BatchResult(done=done, skipped=skipped)


@activity.defn(name="link_incident_members")
async def link_incident_members(input: LinkMembersInput) -> BatchResult:
    """Tell each case it is in the incident (its timeline and state show it), then
    record the members in the register."""

    async def send(client: Client, case_id: str) -> None:
        handle = client.get_workflow_handle(case_workflow_id(case_id))
        await handle.execute_update(
            "join_incident",
            JoinIncidentInput(actor=ACTOR, incident_id=input.incident_id, title=input.title),
            id=f"join-{input.incident_id}",
            rpc_timeout=UPDATE_TIMEOUT,
        )

    result = await _each_case(input.case_ids, send)
    await asyncio.to_thread(_record_members, input.incident_id, input.case_ids)
    return result


def _record_members(incident_id: str, case_ids: Sequence[str]) -> None:
    with session_scope(get_settings().database_url, write=True) as session:
        register.add_members(
            session, incident_id=incident_id, case_ids=case_ids, at=datetime.now(UTC)
        )


@activity.defn(name="send_incident_holding")
async def send_incident_holding(input: HoldingBatchInput) -> BatchResult:
    """Ask each case to send its customer the incident's holding message: the case
    holds the customer's contact data and language, and sends it once per incident
    (the update ID and the case's own check both make a retry a no-op)."""

    async def send(client: Client, case_id: str) -> None:
        handle = client.get_workflow_handle(case_workflow_id(case_id))
        await handle.execute_update(
            "send_incident_holding",
            SendIncidentHoldingInput(actor=ACTOR, incident_id=input.incident_id),
            id=f"holding-{input.incident_id}",
            rpc_timeout=UPDATE_TIMEOUT,
        )

    return await _each_case(input.case_ids, send)


@activity.defn(name="compute_incident_impact")
def compute_incident_impact(input: IncidentRef) -> Impact:
    """The review's impact figures, from the register."""
    with session_scope(get_settings().database_url) as session:
        return Impact.model_validate(
            register.incident_impact(session, incident_id=input.incident_id)
        )


@activity.defn(name="notify_incident_owners")
def notify_incident_owners(input: IncidentStaffInput) -> BatchResult:
    """Tell each member case's owner, once, that the incident has closed."""
    with session_scope(get_settings().database_url, write=True) as session:
        owners = register.member_owners(session, incident_id=input.incident_id)
        done = skipped = 0
        for case_id, owner in owners:
            if owner is None:
                skipped += 1
                continue
            insert_once(
                session,
                StaffNotification(
                    notification_id=f"{input.incident_id}-closed-{case_id}",
                    case_id=case_id,
                    kind=StaffAlertKind.CRISIS.value,
                    clock=None,
                    recipient_role="case_owner",
                    recipient_user=owner,
                    message=(
                        f"Incident {input.incident_id} ({input.title}) has closed; your case "
                        f"{case_id} was one of its members."
                    ),
                    created_at=datetime.now(UTC),
                ),
            )
            done += 1
    return BatchResult(done=done, skipped=skipped)


CRISIS_ACTIVITIES: Sequence[Callable[..., Any]] = (
    evaluate_crisis_rules,
    load_incident_rules,
    open_or_join_incident,
    link_incident_members,
    send_incident_holding,
    compute_incident_impact,
    notify_incident_owners,
)
