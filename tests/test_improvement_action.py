"""An improvement action's clocks on the time-skipping server (R6.3): it reminds its
owner before the due date, escalates once overdue, refuses to close without an
outcome, and the monthly report after its closing month judges its target.

The worker is the real one with its real activities, on a real register (SQLite and
PostgreSQL): staff alerts and the action's projection land in their tables.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contracts.improvement import (
    ActionSource,
    ActionState,
    ActionStatus,
    ActionTarget,
    CloseActionInput,
    ImprovementActionInput,
    PolicyProposal,
    TargetMeasure,
)
from contracts.periods import ReportKind, add_months, month
from contracts.reports import ReportWorkflowInput
from contracts.search_attributes import IMPROVEMENT_DUE, IMPROVEMENT_OVERDUE, IMPROVEMENT_STATUS
from policy.reports import report_rules
from settings import get_settings
from store.db import session_scope
from store.improvement import action_state
from store.reports import latest_revision
from store.tables import StaffNotification
from tests.report_seed import Seed, SeedCase, SeedClock, write_seed
from worker import build_worker
from workflows.improvement_action import ImprovementActionWorkflow, initial_search_attributes
from workflows.reports import MonthlyReportWorkflow

ZONE = ZoneInfo("Asia/Shanghai")
PEOPLE = report_rules().people
DAY = timedelta(days=1)


def opening(action_id: str, due: datetime, target: ActionTarget) -> ImprovementActionInput:
    return ImprovementActionInput(
        action_id=action_id,
        title="Phone card cases answered within five minutes",
        source=ActionSource.FINDING,
        source_ref="monthly/2026-11/f-0123456789ab",
        owner="zhang.wei",
        due=due,
        target=target,
        created_by="wang.fang",
        policy_proposal=PolicyProposal(
            file="policy/default.toml",
            change='[[overrides]]\ncategory = "cards"\nclocks = { first_response = "PT4M" }',
            rationale="Card calls peak at noon",
        ),
        remind_before=timedelta(days=PEOPLE.action_remind_days),
        escalate_every=timedelta(days=PEOPLE.action_escalate_days),
        escalation_ladder=PEOPLE.action_escalation_ladder,
    )


async def register_action_attributes(client: Client) -> None:
    """The test server has no ListSearchAttributes; it does take AddSearchAttributes."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                for key in (IMPROVEMENT_STATUS, IMPROVEMENT_OVERDUE, IMPROVEMENT_DUE)
            },
        )
    )


def alerts(database_url: str, action_id: str) -> list[tuple[str, str, str | None, int]]:
    with session_scope(database_url) as session:
        rows = session.exec(
            select(StaffNotification)
            .where(col(StaffNotification.case_id) == action_id)
            .order_by(col(StaffNotification.created_at))
        ).all()
    return [(r.kind, r.recipient_role, r.recipient_user, r.level) for r in rows]


async def until(check: Callable[[], Any], what: str) -> Any:
    """Poll in real time (the test server's clock held) until ``check`` is truthy."""
    last = None
    async with asyncio.timeout(20):
        while True:
            last = check()
            if last:
                return last
            await asyncio.sleep(0.1)
    raise AssertionError(f"never {what}: {last}")


async def state(handle: WorkflowHandle[Any, Any]) -> ActionState:
    result: ActionState = await handle.query(ImprovementActionWorkflow.get_state)
    return result


def clock_cases(
    prefix: str, start: datetime, category: str, channel: str, met: int, late: int
) -> list[SeedCase]:
    cases = []
    for n in range(met + late):
        opened = start + timedelta(days=1, hours=n)
        deadline = opened + timedelta(minutes=5)
        on_time = n < met
        clock = SeedClock(
            "first_response",
            "met" if on_time else "breached",
            opened,
            deadline,
            met_at=opened + timedelta(minutes=2 if on_time else 9),
            breached_at=None if on_time else deadline,
        )
        cases.append(
            SeedCase(
                f"{prefix}-{n:02d}",
                "inquiry",
                channel,
                category,
                None,
                None,
                "cust-01",
                opened,
                [clock],
            )
        )
    return cases


async def test_action_reminds_escalates_refuses_and_is_judged(
    time_skipping_env: WorkflowEnvironment, database_env: str, task_queue: str
) -> None:
    env, client = time_skipping_env, time_skipping_env.client
    start = await env.get_current_time()
    on_time = ActionTarget(
        measure=TargetMeasure.ON_TIME_SHARE,
        clock="first_response",
        category="cards",
        channel="phone",
        at_least=0.85,
    )
    strict = on_time.model_copy(update={"at_least": 0.95})
    satisfied = ActionTarget(
        measure=TargetMeasure.SATISFACTION_MEAN, category="loans", at_least=4.0
    )
    suffix = uuid.uuid4().hex[:8]
    ids = [f"action-{name}-{suffix}" for name in ("main", "strict", "loans")]
    due = start + 10 * DAY
    await register_action_attributes(client)
    async with build_worker(client, get_settings(), task_queue=task_queue):
        handles = []
        for action_id, target in zip(ids, (on_time, strict, satisfied), strict=True):
            start_input = opening(action_id, due, target)
            handles.append(
                await client.start_workflow(
                    ImprovementActionWorkflow.run,
                    start_input,
                    id=action_id,
                    task_queue=task_queue,
                    search_attributes=initial_search_attributes(start_input),
                )
            )
        main = handles[0]
        projected = await until(
            lambda: _projected(database_env, ids[0]), "projected into the register"
        )
        assert projected.status is ActionStatus.OPEN
        assert projected.policy_proposal is not None  # kept for operations, not applied

        # Six days in: nothing yet. The reminder comes three days before the due date.
        await env.sleep(6 * DAY)
        assert (await state(main)).reminded_at is None
        assert alerts(database_env, ids[0]) == []
        await env.sleep(1.5 * DAY)
        s = await state(main)
        assert s.reminded_at is not None
        assert s.reminded_at == pytest.approx(
            due - timedelta(days=PEOPLE.action_remind_days), abs=timedelta(seconds=5)
        )
        assert s.status is ActionStatus.OPEN
        assert alerts(database_env, ids[0]) == [("warning", "action_owner", "zhang.wei", 0)]

        # A close without an outcome is refused, naming the field; nothing changes.
        for outcome in (None, "   "):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await main.execute_update(
                    ImprovementActionWorkflow.close,
                    CloseActionInput(actor="zhang.wei", outcome=outcome),
                )
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError)
            assert cause.type == "InvalidAction"
            assert cause.message.startswith("outcome:")
        assert (await state(main)).status is ActionStatus.OPEN

        # Past the due date: overdue, escalated to the first rung, then the next.
        await env.sleep(3 * DAY)
        s = await state(main)
        assert (s.status, s.escalation_level) == (ActionStatus.OVERDUE, 1)
        described = await main.describe()
        assert described.typed_search_attributes.get(IMPROVEMENT_OVERDUE) is True
        assert described.typed_search_attributes.get(IMPROVEMENT_STATUS) == "overdue"
        await env.sleep(PEOPLE.action_escalate_days * DAY)
        await env.sleep(5 * DAY)  # the ladder has two rungs: no third alert
        s = await state(main)
        assert s.escalation_level == len(PEOPLE.action_escalation_ladder) == 2
        assert alerts(database_env, ids[0]) == [
            ("warning", "action_owner", "zhang.wei", 0),
            ("escalation", "supervisor", None, 1),
            ("escalation", "branch_manager", None, 2),
        ]
        overdue_row = await until(
            lambda: (
                (p := _projected(database_env, ids[0])) and p.status is ActionStatus.OVERDUE and p
            ),
            "overdue in the register",
        )
        assert overdue_row.escalation_level == 2

        # Closed with its outcome: the workflow ends, the register has the closing.
        for handle in handles:
            closed: ActionState = await handle.execute_update(
                ImprovementActionWorkflow.close,
                CloseActionInput(actor="zhang.wei", outcome="Noon shift added on the card line"),
            )
            assert closed.status is ActionStatus.CLOSED
        for handle in handles:
            final: ActionState = await handle.result()
            assert final.outcome == "Noon shift added on the card line"
        closed_at = final.closed_at
        assert closed_at is not None
        await until(
            lambda: all((p := _projected(database_env, i)) and p.closed_at for i in ids),
            "closed in the register",
        )
        described = await main.describe()
        assert described.typed_search_attributes.get(IMPROVEMENT_OVERDUE) is False

        # The month after the closing month: phone card cases 9 of 10 on time.
        local = closed_at.astimezone(ZONE).date()
        closing_month = month(local.year, local.month)
        next_start = add_months(closing_month.start, 1)
        judged_month = month(next_start.year, next_start.month)
        start_utc = datetime(next_start.year, next_start.month, 1, tzinfo=ZONE).astimezone(UTC)
        cases = clock_cases(f"c-{suffix}", start_utc, "cards", "phone", met=9, late=1)
        cases += clock_cases(
            f"o-{suffix}", start_utc, "cards", "app", met=0, late=3
        )  # other channel
        write_seed(database_env, Seed(cases, [], []))
        expected_share = sum(
            c.clocks[0].status == "met" for c in cases if c.channel == "phone"
        ) / sum(c.channel == "phone" for c in cases)

        for period in (closing_month, judged_month):
            await client.execute_workflow(
                MonthlyReportWorkflow.run,
                ReportWorkflowInput(period=period.label),
                id=f"report-{period.label}-{suffix}",
                task_queue=task_queue,
            )
    with session_scope(database_env) as session:
        closing = latest_revision(session, kind=ReportKind.MONTHLY, period=closing_month.label)
        judged = latest_revision(session, kind=ReportKind.MONTHLY, period=judged_month.label)
    assert closing is not None
    assert judged is not None
    listed = {a["action_id"]: a for a in closing.data["improvement_actions"]["actions"]}
    assert set(ids) <= set(listed)
    assert all(listed[i]["judgement"] is None for i in ids)  # judged next month
    verdicts = {
        a["action_id"]: a["judgement"] for a in judged.data["improvement_actions"]["actions"]
    }
    assert verdicts[ids[0]]["value"] == pytest.approx(expected_share)
    assert verdicts[ids[0]]["count"] == 10
    assert (verdicts[ids[0]]["verdict"], verdicts[ids[1]]["verdict"]) == ("reached", "not_reached")
    assert expected_share >= on_time.at_least
    assert expected_share < strict.at_least
    assert verdicts[ids[2]]["verdict"] == "too_few_cases"  # no loans survey that month


def _projected(database_url: str, action_id: str) -> ActionState | None:
    with session_scope(database_url) as session:
        return action_state(session, action_id)
