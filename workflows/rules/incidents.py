"""Crisis incidents (R8): an incident links its member cases and asks each to write to
its customer, whose contact data only the case holds. Each is applied once per
incident; a repeat is rejected as ``AlreadyApplied``, which the sender counts as done.
"""

from __future__ import annotations

from datetime import datetime

from contracts.actions import (
    ActionName,
    JoinIncidentBody,
    JoinIncidentInput,
    SendIncidentHoldingBody,
    SendIncidentHoldingInput,
)
from contracts.activities import CustomerTemplate
from contracts.case import IncidentLink
from workflows.case_file import CaseFile, RejectionError, reject
from workflows.rules.table import ActionRule


def _incident(case: CaseFile, incident_id: str) -> IncidentLink | None:
    return next((i for i in case.state.incidents if i.incident_id == incident_id), None)


def check_join_incident(case: CaseFile, input: JoinIncidentInput, now: datetime) -> None:
    if _incident(case, input.incident_id) is not None:
        raise RejectionError(
            "AlreadyApplied", f"the case is already in incident {input.incident_id}"
        )


def apply_join_incident(case: CaseFile, input: JoinIncidentInput, now: datetime) -> None:
    case.state.incidents.append(
        IncidentLink(incident_id=input.incident_id, title=input.title, joined_at=now)
    )
    case.record(
        "incident_joined",
        at=now,
        actor=input.actor,
        detail=input.title,
        incident_id=input.incident_id,
    )


JOIN_INCIDENT = ActionRule(
    ActionName.JOIN_INCIDENT,
    JoinIncidentBody,
    JoinIncidentInput,
    check_join_incident,
    apply_join_incident,
)


def check_send_incident_holding(
    case: CaseFile, input: SendIncidentHoldingInput, now: datetime
) -> None:
    link = _incident(case, input.incident_id)
    if link is None:
        raise reject(f"the case is not in incident {input.incident_id}")
    if link.holding_sent_at is not None:
        raise RejectionError(
            "AlreadyApplied",
            f"the customer already has incident {input.incident_id}'s holding message",
        )
    case.require_open()


def apply_send_incident_holding(
    case: CaseFile, input: SendIncidentHoldingInput, now: datetime
) -> None:
    link = _incident(case, input.incident_id)
    assert link is not None
    link.holding_sent_at = now
    seq = case.record(
        "incident_holding_sent", at=now, actor=input.actor, incident_id=input.incident_id
    )
    case.notify_customer(CustomerTemplate.INCIDENT_HOLDING, seq)


SEND_INCIDENT_HOLDING = ActionRule(
    ActionName.SEND_INCIDENT_HOLDING,
    SendIncidentHoldingBody,
    SendIncidentHoldingInput,
    check_send_incident_holding,
    apply_send_incident_holding,
)
