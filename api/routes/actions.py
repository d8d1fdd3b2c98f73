"""Handler actions on a case: one POST each, sent to the workflow as an update.

Bodies carry no ``actor``: the token's user is recorded as the one who acted (R2.2).
Each answers the case after the action; 409 with the workflow's reason when the case's
stage does not allow it; 422 for a value wrong for this case. An ``Idempotency-Key``
becomes the update ID, so a retried request applies once and returns the first result.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from api import engine
from api.auth import Principal, Role
from api.deps import (
    ClientDep,
    DepartmentActor,
    FeedbackTaker,
    Handler,
    IdempotencyKey,
    Supervisor,
)
from api.engine import ActionT
from api.models import CasePublic
from api.routes.common import CaseId, build
from policy.model import ClockName
from workflows.case import CaseWorkflow
from workflows.messages import (
    AcknowledgeBody,
    AcknowledgeInput,
    AnswerBody,
    AnswerInput,
    ApproveRemedyInput,
    AssignOwnerBody,
    AssignOwnerInput,
    CaseState,
    CloseBody,
    CloseInput,
    CustomerUpdateBody,
    CustomerUpdateInput,
    DepartmentPlanBody,
    DepartmentPlanInput,
    DepartmentResultBody,
    DepartmentResultInput,
    EscalateBody,
    EscalateInput,
    ExtendClockBody,
    ExtendClockInput,
    FeedbackBody,
    FeedbackInput,
    FinalReplyBody,
    FinalReplyInput,
    InvestigationBody,
    InvestigationInput,
    NoteBody,
    NoteInput,
    PauseClockBody,
    PauseClockInput,
    ProposeRemedyBody,
    ProposeRemedyInput,
    RemedyDecisionBody,
    ReopenBody,
    ReopenInput,
    ResumeClockBody,
    ResumeClockInput,
    TransferBody,
    TransferInput,
)

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["actions"])

ClockInPath = Annotated[ClockName, Path(description="The clock's name")]
RemedyIdInPath = Annotated[str, Path(min_length=1, max_length=100)]


def _update_id(action: str, user: Principal, key: str | None) -> str | None:
    """The update ID for a keyed request: scoped to the action and the caller, so one
    key reused for a different action or by another caller is not taken as a retry."""
    return None if key is None else f"{action}:{user.user}:{key}"


async def _apply(
    client: Client,
    case_id: str,
    update: UpdateMethodMultiParam[[CaseWorkflow, ActionT], CaseState],
    action: ActionT,
    update_id: str | None,
) -> CasePublic:
    """Send the action to the case and answer with the case as the API shows it."""
    state = await engine.apply_action(client, case_id, update, action, update_id=update_id)
    return CasePublic.model_validate(state.model_dump())


@router.post("/acknowledge", response_model=CasePublic)
async def acknowledge(
    case_id: CaseId,
    user: Handler,
    client: ClientDep,
    body: Annotated[AcknowledgeBody | None, Body()] = None,
    key: IdempotencyKey = None,
) -> CasePublic:
    """First response to the customer (R3.2): stops the 5-minute clock."""
    fields = (body or AcknowledgeBody()).model_dump()
    action = build(AcknowledgeInput, actor=user.user, **fields)
    return await _apply(
        client, case_id, CaseWorkflow.acknowledge, action, _update_id("acknowledge", user, key)
    )


@router.post("/answer", response_model=CasePublic)
async def answer(
    case_id: CaseId,
    body: AnswerBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """A simple question answered at once; the case resolves (R3.3)."""
    action = build(AnswerInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.answer, action, _update_id("answer", user, key)
    )


@router.post("/transfer", response_model=CasePublic)
async def transfer(
    case_id: CaseId,
    body: TransferBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Hand a complex question to the responsible department (R3.4)."""
    action = build(TransferInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.transfer, action, _update_id("transfer", user, key)
    )


@router.post("/department-plan", response_model=CasePublic)
async def department_plan(
    case_id: CaseId,
    body: DepartmentPlanBody,
    user: DepartmentActor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """The department's handling plan (R3.5); a department only on its own cases."""
    action = build(
        DepartmentPlanInput, actor=user.user, department=_acting(user), **body.model_dump()
    )
    return await _apply(
        client,
        case_id,
        CaseWorkflow.record_department_plan,
        action,
        _update_id("department-plan", user, key),
    )


@router.post("/department-result", response_model=CasePublic)
async def department_result(
    case_id: CaseId,
    body: DepartmentResultBody,
    user: DepartmentActor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """The department's result (R3.6); a department only on its own cases."""
    action = build(
        DepartmentResultInput, actor=user.user, department=_acting(user), **body.model_dump()
    )
    return await _apply(
        client,
        case_id,
        CaseWorkflow.record_department_result,
        action,
        _update_id("department-result", user, key),
    )


def _acting(user: Principal) -> str | None:
    """A department's staff act for their department; the workflow's validator refuses
    them on a case another department holds (403), in the same step that applies the
    action, so a transfer can never slip in between a check and the update."""
    return user.department if user.role is Role.DEPARTMENT else None


@router.post("/customer-update", response_model=CasePublic)
async def customer_update(
    case_id: CaseId,
    body: CustomerUpdateBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Progress and result told to the customer (R3.7)."""
    action = build(CustomerUpdateInput, actor=user.user, **body.model_dump())
    return await _apply(
        client,
        case_id,
        CaseWorkflow.update_customer,
        action,
        _update_id("customer-update", user, key),
    )


@router.post("/assign", response_model=CasePublic)
async def assign(
    case_id: CaseId,
    body: AssignOwnerBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Name the complaint's one owner (R4.2)."""
    action = build(AssignOwnerInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.assign_owner, action, _update_id("assign", user, key)
    )


@router.post("/investigation", response_model=CasePublic)
async def investigation(
    case_id: CaseId,
    body: InvestigationBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """The owner's initial investigation (R4.3)."""
    action = build(InvestigationInput, actor=user.user, **body.model_dump())
    return await _apply(
        client,
        case_id,
        CaseWorkflow.record_investigation,
        action,
        _update_id("investigation", user, key),
    )


@router.post("/remedies", response_model=CasePublic)
async def propose_remedy(
    case_id: CaseId,
    body: ProposeRemedyBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Propose a remedy (R4.4); above the policy's threshold it waits for approval."""
    action = build(ProposeRemedyInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.propose_remedy, action, _update_id("remedies", user, key)
    )


@router.post("/remedies/{remedy_id}/approve", response_model=CasePublic)
async def decide_remedy(
    case_id: CaseId,
    remedy_id: RemedyIdInPath,
    body: RemedyDecisionBody,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """A supervisor approves or rejects a proposed remedy (``approve: false``)."""
    action = build(ApproveRemedyInput, actor=user.user, remedy_id=remedy_id, **body.model_dump())
    return await _apply(
        client,
        case_id,
        CaseWorkflow.decide_remedy,
        action,
        _update_id(f"remedies/{remedy_id}/approve", user, key),
    )


@router.post("/reply", response_model=CasePublic)
async def reply(
    case_id: CaseId,
    body: FinalReplyBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """The final reply to the complainant (R4.4, within 7 working days)."""
    action = build(FinalReplyInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.send_final_reply, action, _update_id("reply", user, key)
    )


@router.post("/close", response_model=CasePublic)
async def close(
    case_id: CaseId,
    user: Handler,
    client: ClientDep,
    body: Annotated[CloseBody | None, Body()] = None,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Close the case; the satisfaction survey follows (R6.1)."""
    action = build(CloseInput, actor=user.user, **(body or CloseBody()).model_dump())
    return await _apply(client, case_id, CaseWorkflow.close, action, _update_id("close", user, key))


@router.post("/reopen", response_model=CasePublic)
async def reopen(
    case_id: CaseId,
    body: ReopenBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Reopen a closed case within the policy's reopen window."""
    action = build(ReopenInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.reopen, action, _update_id("reopen", user, key)
    )


@router.post("/feedback", response_model=CasePublic)
async def feedback(
    case_id: CaseId,
    body: FeedbackBody,
    user: FeedbackTaker,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """The customer's score and comment (R6.1), taken at any channel."""
    action = build(FeedbackInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.record_feedback, action, _update_id("feedback", user, key)
    )


@router.post("/clocks/{name}/extend", response_model=CasePublic)
async def extend_clock(
    case_id: CaseId,
    name: ClockInPath,
    body: ExtendClockBody,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Move a running clock's deadline by a duration or a number of working days."""
    action = build(ExtendClockInput, actor=user.user, clock=name, **body.model_dump())
    return await _apply(
        client,
        case_id,
        CaseWorkflow.extend_clock,
        action,
        _update_id(f"clocks/{name}/extend", user, key),
    )


@router.post("/clocks/{name}/pause", response_model=CasePublic)
async def pause_clock(
    case_id: CaseId,
    name: ClockInPath,
    body: PauseClockBody,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Stop a clock while the bank waits on the customer."""
    action = build(PauseClockInput, actor=user.user, clock=name, **body.model_dump())
    return await _apply(
        client,
        case_id,
        CaseWorkflow.pause_clock,
        action,
        _update_id(f"clocks/{name}/pause", user, key),
    )


@router.post("/clocks/{name}/resume", response_model=CasePublic)
async def resume_clock(
    case_id: CaseId,
    name: ClockInPath,
    user: Supervisor,
    client: ClientDep,
    body: Annotated[ResumeClockBody | None, Body()] = None,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Restart a paused clock with the time it had left."""
    fields = (body or ResumeClockBody()).model_dump()
    action = build(ResumeClockInput, actor=user.user, clock=name, **fields)
    return await _apply(
        client,
        case_id,
        CaseWorkflow.resume_clock,
        action,
        _update_id(f"clocks/{name}/resume", user, key),
    )


@router.post("/escalate", response_model=CasePublic)
async def escalate(
    case_id: CaseId,
    body: EscalateBody,
    user: Supervisor,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Raise the case one rung up the escalation ladder by hand."""
    action = build(EscalateInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.escalate, action, _update_id("escalate", user, key)
    )


@router.post("/notes", response_model=CasePublic)
async def add_note(
    case_id: CaseId,
    body: NoteBody,
    user: Handler,
    client: ClientDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """A note on the case's timeline."""
    action = build(NoteInput, actor=user.user, **body.model_dump())
    return await _apply(
        client, case_id, CaseWorkflow.add_note, action, _update_id("notes", user, key)
    )
