"""The staff flow charts (R7.1), drawn from the same data the case's rules use.

Stages come from ``contracts.case.Stage``, the moves between them from the transition
table beside the action table (``workflows.rules.transitions``, checked against the
rules by ``tests/test_transitions.py``), the endpoints from the API's action routes,
and the clock lengths and the escalation ladder from the built-in deadline policy
(``policy/default.toml``) and crisis rules (``policy/crisis.toml``).

``python -m docs_gen.flowcharts`` writes ``docs/flowcharts.md`` (Mermaid, which GitHub
renders); ``--check`` only says whether the committed file is current.
"""

from __future__ import annotations

import itertools
from typing import Any

from api.deps import DepartmentActor, Handler, Supervisor
from api.routes.actions import route_for
from contracts.actions import ActionName
from contracts.case import CaseKind, ClockStatus, Priority, Stage
from contracts.crisis import IncidentStatus, Severity
from contracts.policy import PLAN_CLOCKS
from docs_gen.common import human, run
from policy.crisis import load_crisis_rules
from policy.loader import load_policy_document, resolve_policy
from workflows.clocks import CUSTOMER_SIDE
from workflows.rules import rule_for
from workflows.rules.transitions import Guard, Transition, transitions_of

NAME = "flowcharts.md"
CASES = "/v1/cases"


def _roles(role: Any) -> str:
    if role is Handler:
        return "agent, supervisor"
    if role is DepartmentActor:
        return "department (its own cases), agent, supervisor"
    if role is Supervisor:
        return "supervisor"
    raise ValueError(f"unknown role dependency {role!r}")


def endpoint(action: ActionName) -> str:
    """``POST /v1/cases/{case}/<path>``, or a note for workflow-only actions."""
    route = route_for(action)
    if route is None:
        return "sent by a crisis incident (no route)"
    return f"POST {CASES}/{{case}}/{route.path}"


def _label(t: Transition) -> str:
    return t.action.value if t.guard is Guard.NONE else f"{t.action.value} ({t.guard.value})"


def stage_chart(kind: CaseKind) -> str:
    """The stages of one case kind and the actions that move it between them."""
    lines = ["stateDiagram-v2", f"    [*] --> {Stage.RECEIVED.value}: POST {CASES}"]
    for t in transitions_of(kind):
        for source in t.sources:
            lines.append(f"    {source.value} --> {t.target.value}: {_label(t)}")
    lines.append(f"    {Stage.CLOSED.value} --> [*]: reopen window ends")
    return "\n".join(lines)


def _action_table(kind: CaseKind) -> str:
    rows = ["| action | from | to | endpoint | who |", "|---|---|---|---|---|"]
    for t in transitions_of(kind):
        route = route_for(t.action)
        who = _roles(route.role) if route is not None else "the incident"
        sources = ", ".join(f"`{s.value}`" for s in t.sources)
        guard = f" ({t.guard.value})" if t.guard is not Guard.NONE else ""
        rows.append(
            f"| `{t.action.value}`{guard} | {sources} | `{t.target.value}` |"
            f" `{endpoint(t.action)}` | {who} |"
        )
    return "\n".join(rows)


def _other_actions() -> str:
    moving = {t.action for kind in CaseKind for t in transitions_of(kind)}
    rows = ["| action | endpoint | input |", "|---|---|---|"]
    for action in ActionName:
        if action in moving:
            continue
        fields = ", ".join(f"`{f}`" for f in rule_for(action).input.model_fields if f != "actor")
        rows.append(f"| `{action.value}` | `{endpoint(action)}` | {fields or '-'} |")
    return "\n".join(rows)


def clock_chart() -> str:
    """A clock's life: running, warned, breached and the escalation ladder, met,
    paused, extended; the survey lapses (expired) instead of breaching."""
    doc = load_policy_document(None)
    ladder = doc.rules.escalation.ladder or []
    interval = doc.rules.escalation.interval
    share = round(doc.rules.warning_share * 100)
    running, paused = ClockStatus.RUNNING.value, ClockStatus.PAUSED.value
    met, breached = ClockStatus.MET.value, ClockStatus.BREACHED.value
    lines = [
        "stateDiagram-v2",
        f"    [*] --> {running}: the step that owes it starts",
        f"    {running} --> warned: {share}% of its time gone (warning_share)",
        f"    {running} --> {met}: the step is done",
        f"    warned --> {met}: the step is done",
        f"    {running} --> {paused}: pause_clock",
        f"    warned --> {paused}: pause_clock",
        f"    {paused} --> {running}: resume_clock",
        f"    {running} --> extended: extend_clock",
        "    warned --> extended: extend_clock",
        f"    extended --> {running}: new deadline",
        f"    warned --> {breached}: deadline",
        f"    {running} --> {ClockStatus.EXPIRED.value}: survey window ends (no feedback)",
        f"    {breached} --> {ladder[0]}: at the breach",
    ]
    for lower, upper in itertools.pairwise(ladder):
        lines.append(f"    {lower} --> {upper}: {human(interval) if interval else ''} still unmet")
    for rung in ladder:
        lines.append(f"    {rung} --> met_late: the step is done")
    lines += [
        f"    {met} --> [*]",
        "    met_late --> [*]",
        f"    {ClockStatus.EXPIRED.value} --> [*]",
    ]
    return "\n".join(lines)


def _clock_lengths() -> str:
    doc = load_policy_document(None)
    resolved = {
        (kind, priority): resolve_policy(doc, kind.value, priority.value, [])
        for kind in CaseKind
        for priority in Priority
    }
    header = " | ".join(f"{k.value} {p.value}" for k, p in resolved)
    rows = [f"| clock | {header} |", "|---" * (len(resolved) + 1) + "|"]
    # The plan's clocks; the regulator's (regulator_reply) come from a preset's
    # [regulator] table (README, "Regulators").
    for name in PLAN_CLOCKS:
        cells = []
        for policy in resolved.values():
            rule = policy.clocks[name]
            if rule.working_days is not None:
                cells.append(f"{rule.working_days} working days")
            else:
                assert rule.duration is not None
                cells.append(human(rule.duration))
        lapses = " (lapses: `expired`)" if name in CUSTOMER_SIDE else ""
        rows.append(f"| `{name.value}`{lapses} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def incident_chart() -> str:
    """A crisis incident: open, acknowledged, closed with its review, and escalation."""
    rules = load_crisis_rules(None).incident
    ladder = rules.ladder
    opened, acked = IncidentStatus.OPEN.value, IncidentStatus.ACKNOWLEDGED.value
    closed = IncidentStatus.CLOSED.value
    wait = human(rules.acknowledge_within)
    lines = [
        "stateDiagram-v2",
        f"    [*] --> {opened}: a rule fires, or POST /v1/crises",
        f"    {opened} --> {acked}: POST /v1/crises/ID/acknowledge",
        f"    {opened} --> unacknowledged_{ladder[0]}: {wait} without acknowledgement",
    ]
    for lower, upper in itertools.pairwise(ladder):
        lines.append(f"    unacknowledged_{lower} --> unacknowledged_{upper}: another {wait}")
    for rung in ladder:
        lines.append(f"    unacknowledged_{rung} --> {acked}: acknowledge")
    lines += [
        f"    {acked} --> {acked}: POST /v1/crises/ID/updates (next update due)",
        f"    {acked} --> update_missed: update overdue",
        f"    update_missed --> {acked}: escalated one rung ({' then '.join(ladder)})",
        f"    {opened} --> {closed}: POST /v1/crises/ID/close (with the review)",
        f"    {acked} --> {closed}: POST /v1/crises/ID/close (with the review)",
        f"    {closed} --> [*]",
    ]
    return "\n".join(lines)


def _cadence() -> str:
    cadence = load_crisis_rules(None).incident.update_every
    return ", ".join(f"{s.value} every {human(cadence.of(s))}" for s in Severity)


def _block(chart: str) -> str:
    return f"```mermaid\n{chart}\n```"


def render() -> str:
    """The whole of ``docs/flowcharts.md``."""
    doc = load_policy_document(None)
    crisis = load_crisis_rules(None)
    parts = [
        "# Flow charts",
        "",
        "Generated by `python -m docs_gen.flowcharts` from the case rules' transition table"
        " (`workflows/rules/transitions.py`), the API's action routes, the built-in deadline"
        f" policy (`policy/default.toml`, version `{doc.rules.version}`) and crisis rules"
        f" (`policy/crisis.toml`, version `{crisis.version.split('+')[0]}`). Do not edit by"
        " hand: `tests/test_docs_gen.py` fails when this file differs from what the code"
        " generates. The manuals (`manual.en.md`, `manual.zh-CN.md`) explain each step.",
        "",
        "## Inquiry",
        "",
        _block(stage_chart(CaseKind.INQUIRY)),
        "",
        _action_table(CaseKind.INQUIRY),
        "",
        "## Complaint",
        "",
        _block(stage_chart(CaseKind.COMPLAINT)),
        "",
        _action_table(CaseKind.COMPLAINT),
        "",
        "Actions that never move a case between stages (any kind, where they fit):",
        "",
        _other_actions(),
        "",
        "## Clocks",
        "",
        "Every clock of a case follows this chart; a breach never ends the case. A clock"
        " that is met after its breach stays `breached` on the register with the time it"
        " was met (`met_late` here).",
        "",
        _block(clock_chart()),
        "",
        "Clock lengths in the built-in policy, by case kind and priority:",
        "",
        _clock_lengths(),
        "",
        "## Crisis incident",
        "",
        f"Status updates are due once acknowledged: {_cadence()}.",
        "",
        _block(incident_chart()),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    return run(NAME, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
