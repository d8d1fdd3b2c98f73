"""Complaint management (R4.2-R4.4): the owner, the investigation, remedies with
maker-checker approval, and the final reply."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from contracts.actions import (
    ActionName,
    AssignOwnerBody,
    AssignOwnerInput,
    DecideRemedyBody,
    DecideRemedyInput,
    ProposeRemedyBody,
    ProposeRemedyInput,
    RecordInvestigationBody,
    RecordInvestigationInput,
    SendFinalReplyBody,
    SendFinalReplyInput,
)
from contracts.activities import CustomerTemplate
from contracts.case import CaseKind, Remedy, RemedyStatus, Stage
from contracts.policy import ClockName
from workflows.case_file import CaseFile, invalid, reject
from workflows.effects import RecordRemedy
from workflows.rules.table import ActionRule


def check_assign_owner(case: CaseFile, input: AssignOwnerInput, now: datetime) -> None:
    case.require_open()
    if input.owner == case.state.owner:
        raise reject(f"{input.owner} already owns the case")


def apply_assign_owner(case: CaseFile, input: AssignOwnerInput, now: datetime) -> None:
    previous = case.state.owner
    case.state.owner = input.owner
    case.record(
        "owner_assigned",
        at=now,
        actor=input.actor,
        detail=input.reason,
        owner=input.owner,
        previous_owner=previous,
    )
    if case.kind is CaseKind.COMPLAINT and case.state.stage is Stage.ACKNOWLEDGED:
        case.state.stage = Stage.INVESTIGATING


ASSIGN_OWNER = ActionRule(
    ActionName.ASSIGN_OWNER,
    AssignOwnerBody,
    AssignOwnerInput,
    check_assign_owner,
    apply_assign_owner,
)


def check_record_investigation(
    case: CaseFile, input: RecordInvestigationInput, now: datetime
) -> None:
    case.require_kind("record an investigation", CaseKind.COMPLAINT)
    case.require_stage("record the investigation", Stage.INVESTIGATING)


def apply_record_investigation(
    case: CaseFile, input: RecordInvestigationInput, now: datetime
) -> None:
    case.meet(ClockName.INVESTIGATION, now=now)
    case.investigation_done = True
    case.record(
        "investigation_recorded",
        at=now,
        actor=input.actor,
        detail=input.findings,
        upheld=input.upheld,
    )
    case.state.stage = Stage.AWAITING_FINAL_REPLY


RECORD_INVESTIGATION = ActionRule(
    ActionName.RECORD_INVESTIGATION,
    RecordInvestigationBody,
    RecordInvestigationInput,
    check_record_investigation,
    apply_record_investigation,
)


def check_propose_remedy(case: CaseFile, input: ProposeRemedyInput, now: datetime) -> None:
    policy = case.resolved_policy()
    case.require_kind("propose a remedy", CaseKind.COMPLAINT)
    case.require_open()
    if case.state.stage is Stage.RECEIVED:
        raise reject("acknowledge the complaint before proposing remedies")
    if input.currency != policy.currency:
        raise invalid(f"currency: remedies are paid in {policy.currency}")
    monetary = input.kind.value in ("compensation", "fee_refund", "goodwill")
    if monetary and input.amount is None:
        raise invalid(f"amount: a {input.kind.value} needs an amount")


def apply_propose_remedy(case: CaseFile, input: ProposeRemedyInput, now: datetime) -> None:
    policy = case.resolved_policy()
    remedy_id = f"R{len(case.state.remedies) + 1}"
    needs_approval = input.amount is not None and input.amount > Decimal(
        policy.remedy_approval_threshold
    )
    remedy = Remedy(
        remedy_id=remedy_id,
        kind=input.kind,
        description=input.description,
        amount=input.amount,
        currency=input.currency,
        status=RemedyStatus.PENDING_APPROVAL if needs_approval else RemedyStatus.APPROVED,
        proposed_by=input.actor,
    )
    if not needs_approval:
        remedy.decided_by, remedy.decided_at = input.actor, now
    case.state.remedies.append(remedy)
    case.record(
        "remedy_proposed",
        at=now,
        actor=input.actor,
        detail=input.description,
        remedy_id=remedy_id,
        kind=input.kind.value,
        amount=str(input.amount) if input.amount is not None else None,
        needs_approval=needs_approval,
    )
    if not needs_approval:
        case.effects.append(RecordRemedy(remedy.model_copy()))


PROPOSE_REMEDY = ActionRule(
    ActionName.PROPOSE_REMEDY,
    ProposeRemedyBody,
    ProposeRemedyInput,
    check_propose_remedy,
    apply_propose_remedy,
)


def check_decide_remedy(case: CaseFile, input: DecideRemedyInput, now: datetime) -> None:
    remedy = case.remedy(input.remedy_id)
    if remedy.status is not RemedyStatus.PENDING_APPROVAL:
        raise reject(f"remedy {remedy.remedy_id} is already {remedy.status.value}")
    if input.actor == remedy.proposed_by:
        raise invalid("actor: maker-checker — the proposer cannot approve their own remedy")


def apply_decide_remedy(case: CaseFile, input: DecideRemedyInput, now: datetime) -> None:
    remedy = case.remedy(input.remedy_id)
    remedy.status = RemedyStatus.APPROVED if input.approve else RemedyStatus.REJECTED
    remedy.decided_by, remedy.decided_at = input.actor, now
    case.record(
        "remedy_approved" if input.approve else "remedy_rejected",
        at=now,
        actor=input.actor,
        detail=input.reason,
        remedy_id=remedy.remedy_id,
    )
    if input.approve:
        case.effects.append(RecordRemedy(remedy.model_copy()))


DECIDE_REMEDY = ActionRule(
    ActionName.DECIDE_REMEDY,
    DecideRemedyBody,
    DecideRemedyInput,
    check_decide_remedy,
    apply_decide_remedy,
)


def check_send_final_reply(case: CaseFile, input: SendFinalReplyInput, now: datetime) -> None:
    case.require_kind("send a final reply", CaseKind.COMPLAINT)
    case.require_stage("send the final reply", Stage.AWAITING_FINAL_REPLY)
    pending = [
        r.remedy_id for r in case.state.remedies if r.status is RemedyStatus.PENDING_APPROVAL
    ]
    if pending:
        raise reject(f"remedies await a supervisor's approval: {', '.join(pending)}")
    _check_classification(case, input)


def _check_classification(case: CaseFile, input: SendFinalReplyInput) -> None:
    """Under a regulator profile the final reply records the outcome, and, where the
    profile has a taxonomy, one known code for each of its axes (R9)."""
    regulator = case.resolved_policy().regulator
    if case.state.regulatory is None or regulator is None:
        return
    if input.outcome is None:
        raise invalid(
            f"outcome: a final reply under {regulator.profile} records upheld, partly_upheld"
            " or rejected"
        )
    taxonomy = regulator.taxonomy
    if taxonomy is None:
        return
    given = input.classification or {}
    for axis, codes in taxonomy.axes.items():
        if axis not in given:
            raise invalid(f"classification.{axis}: required by taxonomy {taxonomy.taxonomy}")
        if given[axis] not in codes:
            raise invalid(
                f"classification.{axis}: {given[axis]!r} is not a code of taxonomy"
                f" {taxonomy.taxonomy}"
            )
    unknown = sorted(set(given) - set(taxonomy.axes))
    if unknown:
        raise invalid(f"classification.{unknown[0]}: not an axis of taxonomy {taxonomy.taxonomy}")


def _summary_resolution(case: CaseFile, now: datetime) -> bool:
    """Whether this reply falls in the profile's summary-resolution band (DISP 1.5)."""
    regulatory, policy = case.state.regulatory, case.policy
    if regulatory is None or policy is None or policy.regulator is None:
        return False
    band = policy.regulator.summary_resolution_band
    edges = {b.name: b.deadline for b in regulatory.bands}
    if band is None or band not in edges or regulatory.replied_at is not None:
        return False
    return now <= edges[band]


def apply_send_final_reply(case: CaseFile, input: SendFinalReplyInput, now: datetime) -> None:
    case.meet(ClockName.FINAL_REPLY, now=now)
    case.meet(ClockName.REGULATOR_REPLY, now=now)
    approved = [r for r in case.state.remedies if r.status is RemedyStatus.APPROVED]
    # The classification and outcome ride on the event only when given, so a reply
    # under the plan alone records what it always did.
    recorded: dict[str, object] = {}
    if input.outcome is not None:
        recorded["outcome"] = input.outcome.value
    if input.classification:
        recorded["classification"] = dict(input.classification)
    template = CustomerTemplate.FINAL_REPLY
    if _summary_resolution(case, now):
        template = CustomerTemplate.SUMMARY_RESOLUTION
        recorded["summary_resolution"] = True
    seq = case.record("final_reply_sent", at=now, actor=input.actor, detail=input.reply, **recorded)
    regulatory = case.state.regulatory
    if regulatory is not None and regulatory.replied_at is None:
        regulatory.outcome = input.outcome
        regulatory.classification = dict(input.classification or {})
        regulatory.replied_at = now
    remedies = "; ".join(
        r.description + (f" ({r.amount} {r.currency})" if r.amount is not None else "")
        for r in approved
    )
    case.notify_customer(template, seq, reply=input.reply, remedies=remedies)
    case.state.stage = Stage.RESOLVED


SEND_FINAL_REPLY = ActionRule(
    ActionName.SEND_FINAL_REPLY,
    SendFinalReplyBody,
    SendFinalReplyInput,
    check_send_final_reply,
    apply_send_final_reply,
)
