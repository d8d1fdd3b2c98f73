"""Side effects as data, and the activity call that carries out each one.

The rules queue effects; the case workflow's delivery line turns each into one
activity call (``activity_call``) and runs it. Keeping the mapping here, apart from
both, means a new effect is one dataclass and one ``match`` arm, and mypy flags an
effect without its arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, assert_never

from pydantic import BaseModel
from temporalio.common import RetryPolicy

from contracts.activities import (
    DISPATCH_TO_DEPARTMENT,
    NOTIFY_CUSTOMER,
    NOTIFY_STAFF,
    RECORD_FEEDBACK,
    RECORD_REMEDY,
    ActivityRef,
    CustomerNotificationInput,
    CustomerTemplate,
    DepartmentDispatchInput,
    FeedbackRecordInput,
    RemedyRecordInput,
    StaffAlertKind,
    StaffNotificationInput,
)
from contracts.case import CaseOpenInput, CaseState, Feedback, Remedy
from contracts.policy import ClockName

# Business errors that retrying cannot fix (docs/architecture.md, rule 3).
NON_RETRYABLE = [
    "InvalidPolicy",
    "InvalidDepartments",
    "InvalidCalendar",
    "InvalidTimezone",
    "InvalidDeadlineInput",
    "UnknownDepartment",
    "DepartmentRejected",
    "NotificationRejected",
    "RemedyNotApproved",
    "TemplateError",
]
EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=NON_RETRYABLE,
)
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE,
)


@dataclass(frozen=True)
class NotifyCustomer:
    template: CustomerTemplate
    params: dict[str, str]
    seq: int


@dataclass(frozen=True)
class NotifyStaff:
    kind: StaffAlertKind
    clock: ClockName | None
    recipient_role: str
    recipient_user: str | None
    department: str | None
    level: int
    deadline: datetime | None
    message: str
    seq: int


@dataclass(frozen=True)
class DispatchToDepartment:
    department: str
    reason: str
    requested_by: str
    seq: int


@dataclass(frozen=True)
class RecordRemedy:
    remedy: Remedy


@dataclass(frozen=True)
class RecordFeedback:
    feedback_id: str
    feedback: Feedback


Effect = NotifyCustomer | NotifyStaff | DispatchToDepartment | RecordRemedy | RecordFeedback


@dataclass(frozen=True)
class ActivityCall:
    """One side effect as an activity call: what runs, with what, shown as what."""

    activity: ActivityRef[Any, Any]
    input: BaseModel
    summary: str
    give_up_after: timedelta | None = None


def activity_call(
    effect: Effect, *, case: CaseState, intake: CaseOpenInput, now: datetime
) -> ActivityCall:
    """The activity that carries out ``effect``, with its input and timeline label.

    Deliveries to people give up after an hour and go on the timeline (for a
    department the work item is already in the register, on its work list); the
    ledger and feedback records are the bank's own and retry until written.
    """
    hour = timedelta(hours=1)
    match effect:
        case NotifyCustomer():
            return ActivityCall(
                NOTIFY_CUSTOMER,
                CustomerNotificationInput(
                    notification_id=f"{case.case_id}-{effect.seq}-{effect.template.value}",
                    case_id=case.case_id,
                    customer=intake.customer,
                    template=effect.template,
                    params=effect.params,
                ),
                f"Notify customer: {effect.template.value}",
                hour,
            )
        case NotifyStaff():
            return ActivityCall(
                NOTIFY_STAFF,
                StaffNotificationInput(
                    notification_id=(
                        f"{case.case_id}-{effect.seq}-{effect.kind.value}-{effect.recipient_role}"
                    ),
                    case_id=case.case_id,
                    kind=effect.kind,
                    clock=effect.clock,
                    recipient_role=effect.recipient_role,
                    recipient_user=effect.recipient_user,
                    department=effect.department,
                    level=effect.level,
                    deadline=effect.deadline,
                    message=effect.message,
                ),
                f"Alert {effect.recipient_role}: {effect.kind.value}",
                hour,
            )
        case DispatchToDepartment():
            return ActivityCall(
                DISPATCH_TO_DEPARTMENT,
                DepartmentDispatchInput(
                    dispatch_id=f"{case.case_id}-{effect.seq}",
                    case_id=case.case_id,
                    department=effect.department,
                    kind=case.kind,
                    category=case.category,
                    product=case.product,
                    priority=case.priority,
                    description=intake.description,
                    reason=effect.reason,
                    requested_by=effect.requested_by,
                    requested_at=now,
                ),
                f"Send to department {effect.department}",
                hour,
            )
        case RecordRemedy():
            return ActivityCall(
                RECORD_REMEDY,
                RemedyRecordInput(
                    case_id=case.case_id, customer_id=case.customer_id, remedy=effect.remedy
                ),
                f"Record remedy {effect.remedy.remedy_id} in the ledger",
            )
        case RecordFeedback():
            return ActivityCall(
                RECORD_FEEDBACK,
                FeedbackRecordInput(
                    feedback_id=effect.feedback_id,
                    case_id=case.case_id,
                    kind=case.kind,
                    channel=case.channel,
                    category=case.category,
                    owner=case.owner,
                    score=effect.feedback.score,
                    comment=effect.feedback.comment,
                    at=effect.feedback.at,
                ),
                "Record customer feedback",
            )
        case _:
            assert_never(effect)
