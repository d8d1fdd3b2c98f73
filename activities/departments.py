"""Department dispatch: the responsible department gets the transferred case (R3.4).

The work item is always stored in the register, keyed by ``dispatch_id``: a
department without a system of its own reads its queue through the API. A department
with a webhook (``webhook_url`` in ``CASE_DEPARTMENTS_FILE``) also gets the item
POSTed, with the dispatch id as ``Idempotency-Key``; once its system accepted the
item, a retry does not post it again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notifications import post_json
from contracts.activities import DeliveryResult, DepartmentDispatchInput
from settings import get_settings
from settings.departments import DepartmentsError, load_departments
from store.db import session_scope
from store.idempotent import insert_once
from store.tables import DepartmentWorkItem
from store.work_items import get_work_item, mark_delivered


@activity.defn(name="dispatch_to_department")
def dispatch_to_department(input: DepartmentDispatchInput) -> DeliveryResult:
    """Store the work item; post it to the department's webhook when it has one."""
    settings = get_settings()
    try:
        departments = load_departments(settings.departments_file)
    except DepartmentsError as err:
        # Operations can fix the file; retrying then succeeds.
        raise ApplicationError(str(err), type="DepartmentsMisconfigured") from err
    department = departments.get(input.department)
    if department is None:
        raise ApplicationError(
            f"unknown department {input.department!r}; known: {sorted(departments)}",
            type="UnknownDepartment",
            non_retryable=True,
        )
    with session_scope(settings.database_url, write=True) as session:
        insert_once(
            session,
            DepartmentWorkItem(
                dispatch_id=input.dispatch_id,
                case_id=input.case_id,
                department=department.code,
                kind=input.kind.value,
                category=input.category,
                product=input.product,
                priority=input.priority.value,
                description=input.description,
                reason=input.reason,
                requested_by=input.requested_by,
                requested_at=input.requested_at,
            ),
        )
        item = get_work_item(session, dispatch_id=input.dispatch_id)
    assert item is not None
    if item.delivered_at is not None:
        return DeliveryResult(via=item.delivered_via, detail="already delivered")
    if department.webhook_url is None:
        return DeliveryResult(via="register", detail=f"queued for {department.code}")
    payload = {
        **input.model_dump(mode="json"),
        "department_name_zh": department.name_zh,
        "department_name_en": department.name_en,
    }
    post_json(
        department.webhook_url,
        payload,
        idempotency_key=input.dispatch_id,
        what=f"department {department.code} webhook",
        rejected_type="DepartmentRejected",
        unavailable_type="DepartmentUnavailable",
    )
    with session_scope(settings.database_url, write=True) as session:
        mark_delivered(session, dispatch_id=input.dispatch_id, via="http", at=datetime.now(UTC))
    return DeliveryResult(via="http", detail=f"accepted by {department.code}")
