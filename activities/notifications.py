"""Customer and staff notifications (R2.2, R3.7)."""

from __future__ import annotations

from temporalio import activity

from activities.models import CustomerNotificationInput, DeliveryResult, StaffNotificationInput


@activity.defn(name="notify_customer")
def notify_customer(input: CustomerNotificationInput) -> DeliveryResult:
    """Render the template in the customer's language and send it, once."""
    raise NotImplementedError


@activity.defn(name="notify_staff")
def notify_staff(input: StaffNotificationInput) -> DeliveryResult:
    """Warnings, breaches and escalations to the responsible person or role."""
    raise NotImplementedError
