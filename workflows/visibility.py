"""What supervisors see of a case in the Temporal Web UI without opening it.

Search attribute values are indexed in plain text, outside the payload codec: only
case facts and staff names go here, never the customer's personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from contracts.case import CaseOpenInput, ClockStatus, Stage
from contracts.search_attributes import (
    CASE_BREACHED,
    CASE_CATEGORY,
    CASE_CHANNEL,
    CASE_DEPARTMENT,
    CASE_ESCALATION_LEVEL,
    CASE_KIND,
    CASE_NEXT_DEADLINE,
    CASE_OWNER,
    CASE_POLICY_VERSION,
    CASE_PRIORITY,
    CASE_SEARCH_ATTRIBUTES,
    CASE_STAGE,
)
from workflows.clocks import LABELS, is_open

if TYPE_CHECKING:
    from workflows.case_file import CaseFile

_KEYS: dict[str, SearchAttributeKey[Any]] = {key.name: key for key in CASE_SEARCH_ATTRIBUTES}

WAITING_FOR: dict[Stage, str] = {
    Stage.RECEIVED: "an agent's first response",
    Stage.ACKNOWLEDGED: "the agent: answer, transfer or assign an owner",
    Stage.AWAITING_DEPARTMENT_PLAN: "the department's handling plan",
    Stage.AWAITING_DEPARTMENT_RESULT: "the department's result",
    Stage.AWAITING_CUSTOMER_UPDATE: "the agent to tell the customer the result",
    Stage.INVESTIGATING: "the owner's initial investigation",
    Stage.AWAITING_FINAL_REPLY: "the owner's final reply (remedies approved first)",
    Stage.RESOLVED: "the agent to close the case",
    Stage.CLOSED: "the customer's survey answer or the end of the reopen window",
}


def initial_search_attributes(intake: CaseOpenInput) -> TypedSearchAttributes:
    """Set when the case starts, so it is findable before its first task runs.

    The workflow keeps them current only when it was started with them: a server
    without the case attributes registered (the time-skipping test server has no
    operator service) would otherwise fail every workflow task.
    """
    return TypedSearchAttributes(
        [
            SearchAttributePair(CASE_KIND, intake.kind.value),
            SearchAttributePair(CASE_CHANNEL, intake.channel),
            SearchAttributePair(CASE_STAGE, Stage.RECEIVED.value),
            SearchAttributePair(CASE_PRIORITY, intake.priority.value),
            SearchAttributePair(CASE_CATEGORY, intake.category),
            SearchAttributePair(CASE_BREACHED, False),
            SearchAttributePair(CASE_ESCALATION_LEVEL, 0),
        ]
    )


def publishes_search_attributes(attributes: TypedSearchAttributes) -> bool:
    return attributes.get(CASE_KIND) is not None


def static_summary(intake: CaseOpenInput) -> str:
    """The Web UI's one-line summary of the case, fixed at start (no personal data)."""
    return (
        f"{intake.kind.value.title()} {intake.case_id} · {intake.channel} · "
        f"{intake.category} · {intake.priority.value}"
    )


def static_details(intake: CaseOpenInput) -> str:
    """Fixed details: what the case is about, for a supervisor opening it."""
    return "\n".join(
        [
            f"**{intake.kind.value.title()} {intake.case_id}**",
            f"- Channel: {intake.channel}",
            f"- Category: {intake.category}",
            f"- Product: {intake.product or '-'}",
            f"- Priority: {intake.priority.value}",
            f"- Opened by: {intake.opened_by}",
        ]
    )


def search_values(case: CaseFile) -> dict[str, Any]:
    """Current values by attribute name; None means unset."""
    s = case.state
    return {
        CASE_KIND.name: s.kind.value,
        CASE_CHANNEL.name: s.channel,
        CASE_STAGE.name: s.stage.value,
        CASE_DEPARTMENT.name: s.department,
        CASE_OWNER.name: s.owner,
        CASE_PRIORITY.name: s.priority.value,
        CASE_CATEGORY.name: s.category,
        CASE_POLICY_VERSION.name: s.policy_version,
        CASE_BREACHED.name: s.breached,
        CASE_NEXT_DEADLINE.name: case.next_deadline(),
        CASE_ESCALATION_LEVEL.name: s.escalation_level,
    }


def updates(values: dict[str, Any], previous: dict[str, Any]) -> list[SearchAttributeUpdate[Any]]:
    """Only what changed, so history carries no redundant upserts."""
    changed: list[SearchAttributeUpdate[Any]] = []
    for name, value in values.items():
        if name in previous and previous[name] == value:
            continue
        key = _KEYS[name]
        changed.append(key.value_unset() if value is None else key.value_set(value))
    return changed


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def current_details(case: CaseFile) -> str:
    """Markdown for the Web UI's "current details": stage, whom it waits for, clocks."""
    s = case.state
    lines = [
        f"**{s.kind.value.title()} {s.case_id}** — stage **{s.stage.value}**",
        f"Waiting for: {WAITING_FOR[s.stage]}",
        f"Owner: {s.owner or '-'} · Department: {s.department or '-'}"
        f" · Escalation level: {s.escalation_level}",
        "",
        "| Clock | Status | Deadline |",
        "|---|---|---|",
    ]
    for name, clock in s.clocks.items():
        if not is_open(clock):
            continue
        status = (
            clock.status.value.upper()
            if clock.status is ClockStatus.BREACHED
            else (clock.status.value)
        )
        lines.append(f"| {LABELS[name]} | {status} | {_when(clock.deadline)} |")
    if s.breached:
        lines += ["", "**Breached**: a deadline has passed unmet."]
    return "\n".join(lines)
