"""CrisisIncidentWorkflow: one incident per firing rule and scope, with its own
clocks (R8).

The commander acknowledges within the rules' time or the incident climbs the
ladder; once acknowledged, a status update is due at the severity's cadence and a
missed one escalates. Member cases are linked as they join (each case records the
incident on its own timeline); on request every member's customer gets one holding
message, sent by the case itself in batches with a pause between them. The incident
closes only with a post-incident review whose impact comes from the register, and
closing tells each member case's owner once.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contracts.activities import (
        NOTIFY_STAFF,
        ActivityRef,
        StaffAlertKind,
        StaffNotificationInput,
    )
    from contracts.crisis import (
        COMPUTE_INCIDENT_IMPACT,
        LINK_INCIDENT_MEMBERS,
        LOAD_INCIDENT_RULES_NAME,
        NOTIFY_INCIDENT_OWNERS,
        SEND_INCIDENT_HOLDING,
        AcknowledgeIncidentInput,
        AddMembersInput,
        BatchResult,
        CloseIncidentInput,
        HoldingBatchInput,
        Impact,
        IncidentOpenInput,
        IncidentRef,
        IncidentStaffInput,
        IncidentState,
        IncidentStatus,
        LinkMembersInput,
        NotifyCustomersInput,
        Review,
        StatusUpdate,
        StatusUpdateInput,
    )
    from policy.crisis import IncidentRules

# The rules file's incident clocks, read by an activity so they land in history.
LOAD_INCIDENT_RULES = ActivityRef(LOAD_INCIDENT_RULES_NAME, type(None), IncidentRules)
LINK_BATCH = 100
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InvalidCrisisRules", "NotificationRejected"],
)
RULES_PAUSE = timedelta(minutes=1)


def _rejected(reason: str) -> ApplicationError:
    return ApplicationError(reason, type="ActionRejected")


@workflow.defn
class CrisisIncidentWorkflow:
    @workflow.init
    def __init__(self, input: IncidentOpenInput) -> None:
        self._state = IncidentState(
            incident_id=input.incident_id,
            key=input.key,
            rule=input.rule,
            title=input.title,
            explanation=input.explanation,
            severity=input.severity,
            status=IncidentStatus.OPEN,
            opened_at=workflow.now(),
            opened_by=input.opened_by,
            rules_version=input.rules_version,
        )
        self._members: set[str] = set()
        self._rules: IncidentRules | None = None
        self._closing: CloseIncidentInput | None = None
        self._changed = False
        self._missed_updates = 0

    # --- the main line ---------------------------------------------------------------

    @workflow.run
    async def run(self, input: IncidentOpenInput) -> IncidentState:
        rules = await self._load_rules()
        self._rules = rules
        s = self._state
        await self._alert(
            "opened",
            rules.commander_role,
            StaffAlertKind.CRISIS,
            f"Crisis incident {s.incident_id} opened: {s.explanation}",
        )
        while True:
            if await self._work():
                continue
            if self._closing is not None:
                await self._close(self._closing)
                await workflow.wait_condition(workflow.all_handlers_finished)
                return self._state
            due = self._next_due()
            timeout = None if due is None else max(due - workflow.now(), timedelta(milliseconds=1))
            self._changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            await self._fire_due()

    async def _load_rules(self) -> IncidentRules:
        while True:
            try:
                rules: IncidentRules = await workflow.execute_activity(
                    LOAD_INCIDENT_RULES.name,
                    result_type=LOAD_INCIDENT_RULES.result,
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=RetryPolicy(maximum_attempts=3),
                    summary="Load incident rules",
                )
                return rules
            except ActivityError as err:
                workflow.set_current_details(f"**Rules not loaded**: {err.cause or err}")
                await workflow.sleep(RULES_PAUSE, summary="Retry loading incident rules")

    async def _work(self) -> bool:
        """One batch of linking or holding messages; False when there is none."""
        s, rules = self._state, self._rules
        assert rules is not None
        if s.linked < len(s.members):
            batch = s.members[s.linked : s.linked + LINK_BATCH]
            await workflow.execute_activity(
                LINK_INCIDENT_MEMBERS.name,
                LinkMembersInput(incident_id=s.incident_id, title=s.title, case_ids=batch),
                result_type=LINK_INCIDENT_MEMBERS.result,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
                summary=f"Link {len(batch)} member case(s)",
            )
            s.linked += len(batch)
            self._refresh()
            return True
        if s.holding_requested_at is not None and s.holding_done < s.linked:
            batch = s.members[s.holding_done : s.holding_done + rules.holding_batch]
            result: BatchResult = await workflow.execute_activity(
                SEND_INCIDENT_HOLDING.name,
                HoldingBatchInput(incident_id=s.incident_id, case_ids=batch),
                result_type=SEND_INCIDENT_HOLDING.result,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
                summary=f"Holding message to {len(batch)} customer(s)",
            )
            s.holding_done += len(batch)
            s.holding_sent += result.done
            self._refresh()
            if s.holding_done < s.linked and rules.holding_pause > timedelta(0):
                # The rate limit: customers' gateways and the cases' workers get a
                # breather between batches.
                await workflow.sleep(rules.holding_pause, summary="Holding message pause")
            return True
        return False

    def _next_due(self) -> datetime | None:
        s, rules = self._state, self._rules
        assert rules is not None
        if s.status is IncidentStatus.OPEN:
            if s.escalation_level >= len(rules.ladder):
                return None
            return s.opened_at + rules.acknowledge_within * (s.escalation_level + 1)
        return s.next_update_due

    async def _fire_due(self) -> None:
        s, rules = self._state, self._rules
        assert rules is not None
        now = workflow.now()
        due = self._next_due()
        if due is None or due > now or self._closing is not None:
            return
        if s.status is IncidentStatus.OPEN:
            s.escalation_level += 1
            role = rules.ladder[s.escalation_level - 1]
            await self._alert(
                f"unacknowledged-{s.escalation_level}",
                role,
                StaffAlertKind.ESCALATION,
                f"Crisis incident {s.incident_id} not acknowledged since "
                f"{s.opened_at.isoformat(timespec='minutes')}; escalated to {role}: {s.title}",
                level=s.escalation_level,
            )
        else:
            self._missed_updates += 1
            rung = min(self._missed_updates, len(rules.ladder)) - 1
            s.escalation_level = max(s.escalation_level, rung + 1)
            role = rules.ladder[rung]
            await self._alert(
                f"update-missed-{self._missed_updates}",
                role,
                StaffAlertKind.ESCALATION,
                f"Crisis incident {s.incident_id}: status update overdue; escalated to {role}",
                level=rung + 1,
            )
            s.next_update_due = due + rules.update_every.of(s.severity)
        self._refresh()

    async def _alert(
        self, what: str, role: str, kind: StaffAlertKind, message: str, level: int = 0
    ) -> None:
        s = self._state
        await workflow.execute_activity(
            NOTIFY_STAFF.name,
            StaffNotificationInput(
                notification_id=f"{s.incident_id}-{what}",
                case_id=s.incident_id,
                kind=kind,
                clock=None,
                recipient_role=role,
                level=level,
                message=message,
            ),
            result_type=NOTIFY_STAFF.result,
            start_to_close_timeout=timedelta(seconds=30),
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=RETRY,
            summary=f"Alert {role}: {what}",
        )

    async def _close(self, review: CloseIncidentInput) -> None:
        s = self._state
        impact: Impact = await workflow.execute_activity(
            COMPUTE_INCIDENT_IMPACT.name,
            IncidentRef(incident_id=s.incident_id),
            result_type=COMPUTE_INCIDENT_IMPACT.result,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RETRY,
            summary="Compute the incident's impact",
        )
        await workflow.execute_activity(
            NOTIFY_INCIDENT_OWNERS.name,
            IncidentStaffInput(incident_id=s.incident_id, title=s.title),
            result_type=NOTIFY_INCIDENT_OWNERS.result,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
            summary="Tell member cases' owners",
        )
        now = workflow.now()
        s.review = Review(
            cause=review.cause,
            remedies=review.remedies,
            improvement_actions=review.improvement_actions,
            impact=impact,
            closed_by=review.actor,
            closed_at=now,
        )
        s.status = IncidentStatus.CLOSED
        s.closed_at = now
        s.next_update_due = None
        self._refresh()

    def _refresh(self) -> None:
        s = self._state
        workflow.set_current_details(
            f"**{s.status.value}** · {s.severity.value} · {len(s.members)} member case(s)"
            f" · {s.explanation}"
        )

    def _answer(self) -> IncidentState:
        """Update results are stored in history: they leave out the member list."""
        return self._state.model_copy(update={"members": []})

    # --- members -----------------------------------------------------------------------

    def _add(self, input: AddMembersInput) -> int:
        added = 0
        for case_id in input.case_ids:
            if case_id not in self._members:
                self._members.add(case_id)
                self._state.members.append(case_id)
                added += 1
        if added:
            self._changed = True
            self._refresh()
        return added

    @workflow.signal
    def add_members(self, input: AddMembersInput) -> None:
        """New matching cases (from the monitor); a closed incident takes none."""
        if self._state.status is not IncidentStatus.CLOSED and self._closing is None:
            self._add(input)

    @workflow.update
    def attach_cases(self, input: AddMembersInput) -> IncidentState:
        self._add(input)
        return self._answer()

    @attach_cases.validator
    def _v_attach_cases(self, input: AddMembersInput) -> None:
        self._require_open()
        if not input.case_ids:
            raise _rejected("case_ids: give at least one case")

    # --- the commander's actions -------------------------------------------------------

    def _require_open(self) -> None:
        if self._state.status is IncidentStatus.CLOSED or self._closing is not None:
            raise _rejected("the incident is closed")

    @workflow.update
    def acknowledge(self, input: AcknowledgeIncidentInput) -> IncidentState:
        s, now = self._state, workflow.now()
        s.status = IncidentStatus.ACKNOWLEDGED
        s.commander = input.actor
        s.acknowledged_at = now
        if self._rules is not None:
            s.next_update_due = now + self._rules.update_every.of(s.severity)
        if input.note:
            s.updates.append(StatusUpdate(at=now, actor=input.actor, message=input.note))
        self._changed = True
        self._refresh()
        return self._answer()

    @acknowledge.validator
    def _v_acknowledge(self, input: AcknowledgeIncidentInput) -> None:
        self._require_open()
        if self._state.status is not IncidentStatus.OPEN:
            raise _rejected(f"the incident is already acknowledged by {self._state.commander}")
        if self._rules is None:
            raise _rejected("the incident is still starting; try again in a moment")

    @workflow.update
    def post_update(self, input: StatusUpdateInput) -> IncidentState:
        s, now = self._state, workflow.now()
        s.updates.append(StatusUpdate(at=now, actor=input.actor, message=input.message))
        if s.status is IncidentStatus.ACKNOWLEDGED and self._rules is not None:
            s.next_update_due = now + self._rules.update_every.of(s.severity)
        self._changed = True
        return self._answer()

    @post_update.validator
    def _v_post_update(self, input: StatusUpdateInput) -> None:
        self._require_open()

    @workflow.update
    def notify_customers(self, input: NotifyCustomersInput) -> IncidentState:
        s = self._state
        s.holding_requested_at = workflow.now()
        s.updates.append(
            StatusUpdate(
                at=s.holding_requested_at,
                actor=input.actor,
                message="Holding message to every affected customer requested",
            )
        )
        self._changed = True
        return self._answer()

    @notify_customers.validator
    def _v_notify_customers(self, input: NotifyCustomersInput) -> None:
        self._require_open()
        if self._state.holding_requested_at is not None:
            raise _rejected(
                "the holding message is already going out to every member's customer"
                " (cases that join later get it too)"
            )

    @workflow.update
    async def close(self, input: CloseIncidentInput) -> IncidentState:
        self._closing = input
        self._changed = True
        await workflow.wait_condition(lambda: self._state.status is IncidentStatus.CLOSED)
        return self._answer()

    @close.validator
    def _v_close(self, input: CloseIncidentInput) -> None:
        self._require_open()

    @workflow.query
    def get_state(self) -> IncidentState:
        return self._state
