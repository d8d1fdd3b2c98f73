"""Transfer to the responsible department and its plan and result (R3.4-R3.6)."""

from __future__ import annotations

from datetime import datetime

from contracts.actions import (
    ActionName,
    RecordDepartmentPlanBody,
    RecordDepartmentPlanInput,
    RecordDepartmentResultBody,
    RecordDepartmentResultInput,
    TransferBody,
    TransferInput,
)
from contracts.activities import CustomerTemplate
from contracts.case import CaseKind, Stage
from contracts.policy import ClockName
from workflows.case_file import DEPARTMENT_STAGES, CaseFile, invalid, reject
from workflows.effects import DispatchToDepartment
from workflows.rules.table import ActionRule


def check_transfer(case: CaseFile, input: TransferInput, now: datetime) -> None:
    policy = case.resolved_policy()
    if case.state.stage in DEPARTMENT_STAGES:
        raise reject(f"the case is already with department {case.state.department}")
    if case.kind is CaseKind.COMPLAINT:
        case.require_stage("transfer", Stage.INVESTIGATING, Stage.AWAITING_FINAL_REPLY)
    else:
        case.require_stage("transfer", Stage.RECEIVED, Stage.ACKNOWLEDGED)
    if input.department not in policy.departments:
        known = ", ".join(policy.departments)
        raise invalid(f"department: unknown department {input.department!r} (known: {known})")


def apply_transfer(case: CaseFile, input: TransferInput, now: datetime) -> None:
    case.meet(ClockName.FIRST_RESPONSE, now=now)
    case.state.department = input.department
    case.state.stage = Stage.AWAITING_DEPARTMENT_PLAN
    case.transferred_by = input.actor
    for name in (ClockName.DEPARTMENT_PLAN, ClockName.DEPARTMENT_RESULT):
        deadline = case.duration_deadline(name, start=now)
        assert deadline is not None, "department clocks are durations"
        case.start_clock(name, now=now, deadline=deadline)
    seq = case.record(
        "transferred",
        at=now,
        actor=input.actor,
        detail=input.reason,
        department=input.department,
    )
    case.effects.append(DispatchToDepartment(input.department, input.reason, input.actor, seq))
    case.notify_customer(
        CustomerTemplate.TRANSFERRED,
        seq,
        department=input.department,
        deadline=case.deadline_text(ClockName.DEPARTMENT_RESULT),
    )


TRANSFER = ActionRule(
    ActionName.TRANSFER, TransferBody, TransferInput, check_transfer, apply_transfer
)


def check_record_department_plan(
    case: CaseFile, input: RecordDepartmentPlanInput, now: datetime
) -> None:
    case.require_department(input.department)
    case.require_stage("record the department's plan", Stage.AWAITING_DEPARTMENT_PLAN)


def apply_record_department_plan(
    case: CaseFile, input: RecordDepartmentPlanInput, now: datetime
) -> None:
    case.meet(ClockName.DEPARTMENT_PLAN, now=now)
    case.record(
        "department_plan_received",
        at=now,
        actor=input.actor,
        detail=input.plan,
        department=case.state.department,
    )
    case.state.stage = Stage.AWAITING_DEPARTMENT_RESULT


RECORD_DEPARTMENT_PLAN = ActionRule(
    ActionName.RECORD_DEPARTMENT_PLAN,
    RecordDepartmentPlanBody,
    RecordDepartmentPlanInput,
    check_record_department_plan,
    apply_record_department_plan,
)


def check_record_department_result(
    case: CaseFile, input: RecordDepartmentResultInput, now: datetime
) -> None:
    case.require_department(input.department)
    case.require_stage("record the department's result", *DEPARTMENT_STAGES)


def apply_record_department_result(
    case: CaseFile, input: RecordDepartmentResultInput, now: datetime
) -> None:
    case.meet(ClockName.DEPARTMENT_PLAN, now=now)
    case.meet(ClockName.DEPARTMENT_RESULT, now=now)
    case.record(
        "department_result_received",
        at=now,
        actor=input.actor,
        detail=input.result,
        department=case.state.department,
    )
    case.state.stage = Stage.AWAITING_CUSTOMER_UPDATE
    deadline = case.duration_deadline(ClockName.CUSTOMER_UPDATE, start=now)
    assert deadline is not None, "the customer-update clock is a duration"
    case.start_clock(ClockName.CUSTOMER_UPDATE, now=now, deadline=deadline)


RECORD_DEPARTMENT_RESULT = ActionRule(
    ActionName.RECORD_DEPARTMENT_RESULT,
    RecordDepartmentResultBody,
    RecordDepartmentResultInput,
    check_record_department_result,
    apply_record_department_result,
)
