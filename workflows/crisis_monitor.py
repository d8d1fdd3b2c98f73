"""CrisisMonitorWorkflow: one long-running workflow that evaluates the crisis rules
over the case register every few seconds and feeds one incident per firing rule and
scope (R8).

The register is the projection of every case's timeline, so the monitor needs no
signal from each case: an evaluation is a few indexed SQL counts whose windows are
computed from the events' own times, idempotent however often it runs. The monitor
keeps, in its state and across continue-as-new, the incidents it feeds and the
watermark of its last evaluation; each evaluation scans from the watermark (less the
rules' late allowance), and the incident's member list (a set, projected to the
register) drops what was seen before, so no case is lost or counted twice when a
worker or the server restarts between two evaluations.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from contracts.crisis import (
        EVALUATE_CRISIS_RULES,
        OPEN_OR_JOIN_INCIDENT,
        ActiveIncident,
        EvaluationInput,
        EvaluationResult,
        IncidentOpenInput,
        MonitorInput,
        OpenOrJoinInput,
        OpenOrJoinResult,
    )

MONITOR_WORKFLOW_ID = "crisis-monitor"
# Member cases handed to an incident per signal: keeps each payload small.
MEMBER_CHUNK = 500
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["InvalidCrisisRules"],
)
BROKEN_RULES_PAUSE = timedelta(minutes=1)


def incident_id_for(key: str, generation: int, prefix: str = "crisis") -> str:
    """A readable, deterministic workflow ID for the incident of ``key``."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:60]
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return f"{prefix}-{slug}-{digest}-{generation}"


@workflow.defn
class CrisisMonitorWorkflow:
    @workflow.init
    def __init__(self, input: MonitorInput) -> None:
        self._state = input.state.model_copy(deep=True)
        self._max_iterations = input.max_iterations
        self._prefix = input.id_prefix
        self._rules_version: str | None = None

    @workflow.run
    async def run(self, input: MonitorInput) -> None:
        iterations = 0
        while True:
            interval = await self._evaluate_once()
            iterations += 1
            if iterations >= self._max_iterations or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    MonitorInput(
                        state=self._state,
                        max_iterations=self._max_iterations,
                        id_prefix=self._prefix,
                    )
                )
            await workflow.sleep(interval, summary="Next crisis evaluation")

    async def _evaluate_once(self) -> timedelta:
        state = self._state
        now = workflow.now()
        try:
            result: EvaluationResult = await workflow.execute_activity(
                EVALUATE_CRISIS_RULES.name,
                EvaluationInput(
                    now=now,
                    cursor=state.cursor,
                    active=list(state.active.values()),
                    quiet_since=state.quiet_since,
                ),
                result_type=EVALUATE_CRISIS_RULES.result,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RETRY,
                summary="Evaluate crisis rules",
            )
        except ActivityError as err:
            # A broken rules file: wait for operations to fix it, visibly.
            workflow.logger.error("Crisis evaluation failed: %s", err)
            workflow.set_current_details(f"**Evaluation failing**: {err.cause or err}")
            return BROKEN_RULES_PAUSE
        self._rules_version = result.rules_version
        for firing in result.firings:
            if firing.key in state.active:
                continue
            generation = state.generation.get(firing.key, 0) + 1
            state.generation[firing.key] = generation
            incident_id = incident_id_for(firing.key, generation, self._prefix)
            state.active[firing.key] = ActiveIncident(
                key=firing.key,
                incident_id=incident_id,
                match=firing.match,
                since=firing.since,
                opener=IncidentOpenInput(
                    incident_id=incident_id,
                    key=firing.key,
                    rule=firing.rule,
                    title=firing.title,
                    explanation=firing.explanation,
                    severity=firing.severity,
                    match=firing.match,
                    opened_by=MONITOR_WORKFLOW_ID,
                    rules_version=result.rules_version,
                    count=firing.count,
                    expected=firing.expected,
                ),
            )
        for key, case_ids in result.members.items():
            incident = state.active.get(key)
            if incident is None:
                continue
            for start in range(0, len(case_ids), MEMBER_CHUNK):
                joined: OpenOrJoinResult = await workflow.execute_activity(
                    OPEN_OR_JOIN_INCIDENT.name,
                    OpenOrJoinInput(
                        open=incident.opener, case_ids=case_ids[start : start + MEMBER_CHUNK]
                    ),
                    result_type=OPEN_OR_JOIN_INCIDENT.result,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                    summary=f"Hand cases to {incident.incident_id}",
                )
                if joined.status == "closed":
                    # Closed by its commander: later events open the next generation.
                    del state.active[key]
                    state.quiet_since[key] = now
                    break
        # Forget closures older than any window; their events are out of reach anyway.
        horizon = now - timedelta(days=1)
        state.quiet_since = {k: at for k, at in state.quiet_since.items() if at > horizon}
        state.cursor = now
        state.evaluations += 1
        workflow.set_current_details(
            f"Rules {result.rules_version}; {len(state.active)} incident(s) fed; "
            f"evaluation {state.evaluations} at {now.isoformat(timespec='seconds')}"
        )
        return result.evaluate_every

    @workflow.query
    def get_monitor_state(self) -> MonitorInput:
        return MonitorInput(
            state=self._state, max_iterations=self._max_iterations, id_prefix=self._prefix
        )
