"""Deadline activities: resolve the policy for a case and count working days.

Both run as local activities at intake so their results land in history: a replay
never depends on the policy file or the ``holidays`` release installed today.
"""

from __future__ import annotations

from temporalio import activity

from activities.models import ComputeDeadlineInput, DeadlineResult, ResolvePolicyInput
from policy.model import ResolvedPolicy


@activity.defn(name="resolve_case_policy")
def resolve_case_policy(input: ResolvePolicyInput) -> ResolvedPolicy:
    """The policy for this case's kind and priority, from ``CASE_POLICY_FILE``."""
    raise NotImplementedError  # filled in by the policy work


@activity.defn(name="compute_deadline")
def compute_deadline(input: ComputeDeadlineInput) -> DeadlineResult:
    """The deadline of a working-day clock."""
    raise NotImplementedError  # filled in by the calendars work
