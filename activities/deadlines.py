"""Deadline activities: resolve the policy for a case and count working days.

Both run as local activities at intake so their results land in history: a replay
never depends on the policy file or the ``holidays`` release installed today. A bad
policy file or calendar will not fix itself on retry, so those errors are
non-retryable and typed for the workflow to tell apart.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from calendars import (
    OverlayError,
    UnknownCalendarError,
    UnknownTimezoneError,
    load_overlay,
    working_day_deadline,
)
from contracts.activities import (
    ComputeDeadlineInput,
    DeadlineResult,
    IntakeResolution,
    ResolveIntakeInput,
    ResolvePolicyInput,
)
from contracts.policy import ClockName, ResolvedPolicy
from policy.loader import PolicyError, load_policy_document, resolve_policy_cached
from settings.app import get_settings
from settings.departments import DepartmentsError, load_departments


@activity.defn(name="resolve_case_policy")
def resolve_case_policy(input: ResolvePolicyInput) -> ResolvedPolicy:
    """The policy for this case's kind and priority, from ``CASE_POLICY_FILE``."""
    settings = get_settings()
    try:
        departments = load_departments(settings.departments_file)
    except DepartmentsError as err:
        raise ApplicationError(str(err), type="InvalidDepartments", non_retryable=True) from err
    try:
        doc = load_policy_document(settings.policy_file)
        return resolve_policy_cached(doc, input.kind, input.priority, tuple(departments))
    except PolicyError as err:
        raise ApplicationError(str(err), type="InvalidPolicy", non_retryable=True) from err


@activity.defn(name="resolve_case_intake")
def resolve_case_intake(input: ResolveIntakeInput) -> IntakeResolution:
    """The case's policy and its receipt clocks' working-day deadlines together.

    What ``resolve_case_policy`` and ``compute_deadline`` do one after the other, in
    one local activity: an open waits for one round through the worker instead of two
    (each a new workflow activation, queued behind the other cases' under load).
    """
    policy = resolve_case_policy(ResolvePolicyInput(kind=input.kind, priority=input.priority))
    deadlines: dict[ClockName, DeadlineResult] = {}
    for name in input.clocks:
        days = policy.clocks[name].working_days
        if days is not None:
            deadlines[name] = compute_deadline(
                ComputeDeadlineInput.under(policy, input.start, days)
            )
    return IntakeResolution(policy=policy, deadlines=deadlines)


@activity.defn(name="compute_deadline")
def compute_deadline(input: ComputeDeadlineInput) -> DeadlineResult:
    """The deadline of a working-day clock, with the bank's calendar overlay
    (``CASE_CALENDAR_OVERLAY_FILE``) on top of the ``holidays`` package."""
    try:
        overlay = load_overlay(get_settings().calendar_overlay_file)
    except OverlayError as err:
        raise ApplicationError(str(err), type="InvalidCalendarOverlay", non_retryable=True) from err
    try:
        deadline = working_day_deadline(
            input.start,
            input.working_days,
            timezone=input.timezone,
            calendar=input.calendar,
            subdivision=input.subdivision,
            overlay=overlay,
        )
    except UnknownCalendarError as err:
        raise ApplicationError(str(err), type="InvalidCalendar", non_retryable=True) from err
    except UnknownTimezoneError as err:
        raise ApplicationError(str(err), type="InvalidTimezone", non_retryable=True) from err
    except ValueError as err:
        raise ApplicationError(str(err), type="InvalidDeadlineInput", non_retryable=True) from err
    return DeadlineResult(
        deadline=deadline, overlay_version=None if overlay.empty else overlay.version
    )
