"""Department dispatch: the responsible department gets the transferred case (R3.4)."""

from __future__ import annotations

from temporalio import activity

from activities.models import DeliveryResult, DepartmentDispatchInput


@activity.defn(name="dispatch_to_department")
def dispatch_to_department(input: DepartmentDispatchInput) -> DeliveryResult:
    """Store the work item; post it to the department's webhook when it has one."""
    raise NotImplementedError
