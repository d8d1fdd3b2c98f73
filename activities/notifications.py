"""Customer and staff notifications (R2.2, R3.7).

Each message is written to an outbox row first (keyed by ``notification_id``), then
handed to an adapter when one is configured:

- ``CASE_NOTIFY_GATEWAY_URL``: the bank's messaging gateway takes every channel (SMS,
  e-mail, app inbox) as one JSON POST;
- otherwise e-mail goes out over SMTP when ``CASE_SMTP_HOST`` is set;
- otherwise the row stays ``queued`` for the bank's own poller.

A row already ``sent`` is never sent again, and every request carries the
notification id as its ``Idempotency-Key`` (SMTP: as the Message-ID), so a gateway can
drop the duplicate if a worker dies between sending and marking the row.

A customer with neither phone nor e-mail still gets the message: in the app inbox
(online and mobile banking), addressed by customer id. That is a normal case for a
walk-in customer, not an error, so it never fails the activity.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.templates import TemplateError, render
from contracts.activities import (
    CustomerNotificationInput,
    DeliveryResult,
    StaffNotificationInput,
)
from contracts.case import Customer, Language
from settings import get_settings
from settings.departments import DepartmentsError, load_departments
from store.db import session_scope
from store.outbox import FAILED, SENT, mark_failed, mark_sent, queue_once
from store.tables import CustomerNotification, StaffNotification

HTTP_TIMEOUT_SECONDS = 10.0
SMTP_TIMEOUT_SECONDS = 10.0
# 4xx answers that mean "not now" rather than "never".
_TRANSIENT_STATUS = frozenset({408, 425, 429})


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str,
    what: str,
    rejected_type: str,
    unavailable_type: str,
) -> int:
    """POST ``payload``; returns the 2xx status.

    A refusal (other 4xx, or a redirect) fails for good with ``rejected_type``; an
    outage (5xx, 408/425/429, timeout, connection error) raises a retryable
    ``unavailable_type``. The URL stays out of the messages: it may hold a token.
    """
    try:
        response = httpx.post(
            url,
            json=payload,
            headers={"Idempotency-Key": idempotency_key},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as err:
        raise ApplicationError(
            f"{what} unreachable: {type(err).__name__}: {err}", type=unavailable_type
        ) from err
    status = response.status_code
    if 200 <= status < 300:
        return status
    detail = f"{what} answered {status}: {response.text[:200]}"
    if status >= 500 or status in _TRANSIENT_STATUS:
        raise ApplicationError(detail, type=unavailable_type)
    raise ApplicationError(detail, type=rejected_type, non_retryable=True)


def contact_channel(customer: Customer) -> tuple[str, str]:
    """Where the customer is reached: SMS, else e-mail, else the app inbox."""
    if customer.phone:
        return "sms", customer.phone
    if customer.email:
        return "email", customer.email
    return "app", customer.id


def _department_name(code: str, language: Language) -> str:
    """The department's name in the customer's language (the code if unknown)."""
    try:
        department = load_departments(get_settings().departments_file).get(code)
    except DepartmentsError:
        department = None
    if department is None:
        return code
    return department.name_zh if language is Language.ZH else department.name_en


def _message_id(notification_id: str, sender: str) -> str:
    local = re.sub(r"[^A-Za-z0-9._-]", "-", notification_id)
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{local}@{domain}>"


def _send_email(row: CustomerNotification) -> None:
    settings = get_settings()
    assert settings.smtp_host is not None
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = _message_id(row.notification_id, settings.smtp_sender)
    message.set_content(row.body)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as err:
        codes = [code for code, _ in err.recipients.values()]
        permanent = all(code >= 500 for code in codes)
        raise ApplicationError(
            f"mail server refused the recipient: {codes}",
            type="NotificationRejected" if permanent else "NotificationUnavailable",
            non_retryable=permanent,
        ) from err
    except smtplib.SMTPResponseException as err:
        permanent = err.smtp_code >= 500
        raise ApplicationError(
            f"mail server answered {err.smtp_code}: {err.smtp_error!r}",
            type="NotificationRejected" if permanent else "NotificationUnavailable",
            non_retryable=permanent,
        ) from err
    except (smtplib.SMTPException, OSError) as err:
        raise ApplicationError(
            f"mail server unreachable: {type(err).__name__}: {err}",
            type="NotificationUnavailable",
        ) from err


def _deliver(
    model: type[CustomerNotification] | type[StaffNotification],
    notification_id: str,
    send: Callable[[], object],
    via: str,
) -> DeliveryResult:
    """Run ``send``; mark the row sent, or failed if the adapter refused it for good."""
    database_url = get_settings().database_url
    try:
        send()
    except ApplicationError as err:
        if err.non_retryable:
            with session_scope(database_url, write=True) as session:
                mark_failed(session, model=model, notification_id=notification_id, via=via)
        raise
    with session_scope(database_url, write=True) as session:
        mark_sent(
            session,
            model=model,
            notification_id=notification_id,
            via=via,
            at=datetime.now(UTC),
        )
    return DeliveryResult(via=via)


def _settled(row: CustomerNotification | StaffNotification, what: str) -> DeliveryResult | None:
    """An outbox row a previous attempt already settled: sent is never sent again,
    refused is not retried."""
    if row.status == SENT:
        return DeliveryResult(via=row.via or "outbox", detail="already sent")
    if row.status == FAILED:
        raise ApplicationError(
            f"{what} {row.notification_id} was refused by {row.via}",
            type="NotificationRejected",
            non_retryable=True,
        )
    return None


@activity.defn(name="notify_customer")
def notify_customer(input: CustomerNotificationInput) -> DeliveryResult:
    """Render the template in the customer's language and send it, once."""
    settings = get_settings()
    customer = input.customer
    params = {"case_id": input.case_id, "customer_name": customer.name, **input.params}
    if "department" in params:
        params["department"] = _department_name(params["department"], customer.language)
    try:
        message = render(input.template, customer.language, params)
    except TemplateError as err:
        raise ApplicationError(str(err), type="TemplateError", non_retryable=True) from err
    channel, recipient = contact_channel(customer)
    queued = CustomerNotification(
        notification_id=input.notification_id,
        case_id=input.case_id,
        customer_id=customer.id,
        template=input.template.value,
        channel=channel,
        recipient=recipient,
        language=customer.language.value,
        subject=message.subject,
        body=message.body,
        created_at=datetime.now(UTC),
    )
    with session_scope(settings.database_url, write=True) as session:
        row = queue_once(session, queued)
    if (settled := _settled(row, "notification")) is not None:
        return settled
    gateway = settings.notify_gateway_url
    if gateway:
        payload = {
            "notification_id": row.notification_id,
            "to": row.recipient,
            "channel": row.channel,
            "language": row.language,
            "subject": row.subject,
            "body": row.body,
        }
        return _deliver(
            CustomerNotification,
            row.notification_id,
            lambda: post_json(
                gateway,
                payload,
                idempotency_key=row.notification_id,
                what="notification gateway",
                rejected_type="NotificationRejected",
                unavailable_type="NotificationUnavailable",
            ),
            "http",
        )
    if row.channel == "email" and settings.smtp_host:
        return _deliver(CustomerNotification, row.notification_id, lambda: _send_email(row), "smtp")
    return DeliveryResult(via="outbox", detail=f"queued for {row.channel}")


@activity.defn(name="notify_staff")
def notify_staff(input: StaffNotificationInput) -> DeliveryResult:
    """Warnings, breaches and escalations to the responsible person or role."""
    settings = get_settings()
    queued = StaffNotification(
        notification_id=input.notification_id,
        case_id=input.case_id,
        kind=input.kind.value,
        clock=input.clock.value if input.clock else None,
        recipient_role=input.recipient_role,
        recipient_user=input.recipient_user,
        department=input.department,
        level=input.level,
        deadline=input.deadline,
        message=input.message,
        created_at=datetime.now(UTC),
    )
    with session_scope(settings.database_url, write=True) as session:
        row = queue_once(session, queued)
    if (settled := _settled(row, "staff alert")) is not None:
        return settled
    webhook = settings.staff_webhook_url
    if not webhook:
        return DeliveryResult(via="outbox", detail=f"queued for {row.recipient_role}")
    payload = input.model_dump(mode="json")
    return _deliver(
        StaffNotification,
        row.notification_id,
        lambda: post_json(
            webhook,
            payload,
            idempotency_key=row.notification_id,
            what="staff webhook",
            rejected_type="NotificationRejected",
            unavailable_type="NotificationUnavailable",
        ),
        "http",
    )
