"""Crisis detection and incidents on the time-skipping test server, over a real
register (SQLite and PostgreSQL) seeded with case rows and timeline events.

The worker is the real one (``worker.build_worker``) with its real activities; the
only stand-in is, in the holding-message test, a wrapper that runs the real holding
activity and then fails its first attempt, to show a retry writes nothing twice.
Expected figures (counts, members) are the test's own seeding, not read back from the
code under test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import crisis as crisis_activities
from activities.crisis import poisson_upper_tail
from contracts.case import CaseState, Customer, Language, case_workflow_id
from contracts.crisis import (
    AcknowledgeIncidentInput,
    AddMembersInput,
    BatchResult,
    CloseIncidentInput,
    HoldingBatchInput,
    IncidentOpenInput,
    IncidentState,
    MonitorInput,
    NotifyCustomersInput,
    RuleKind,
    StatusUpdateInput,
)
from policy.crisis import CrisisRulesError, Severity, parse_crisis_rules
from settings import get_settings
from store.db import session_scope
from store.tables import (
    CaseEventRow,
    CaseRow,
    CrisisMember,
    CustomerNotification,
    StaffNotification,
)
from tests.case_harness import intake
from tests.db_fixtures import environment
from worker import ACTIVITIES, build_worker
from workflows.case import CaseWorkflow
from workflows.crisis_incident import CrisisIncidentWorkflow
from workflows.crisis_monitor import CrisisMonitorWorkflow, incident_id_for

EVERY = timedelta(seconds=20)
RULES = """\
version = "test-crisis"
evaluate_every = "PT20S"
late_allowance = "PT10M"

[surge]
event_types = ["opened", "reopened"]
kinds = ["complaint"]
window = "PT1H"
baseline_weeks = 4
min_expected = 1.0
min_count = 10
p_value = 0.001
scopes = [["product"]]
severity = "high"

[breach_storm]
window = "PT1H"
overall = 6
severity = "high"

[watch_list]
categories = ["suspected_fraud"]
severity = "critical"

[incident]
acknowledge_within = "PT15M"
ladder = ["duty_manager", "head_of_service"]
commander_role = "duty_manager"
holding_batch = 2
holding_pause = "PT1S"

[incident.update_every]
critical = "PT30M"
high = "PT1H"
medium = "PT2H"
"""

SURGE_KEY = "surge:product=platinum_card"


@dataclass
class Crisis:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    database_url: str
    prefix: str = field(default_factory=lambda: f"crisis-t{uuid.uuid4().hex[:8]}")

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    def seed(
        self,
        count: int,
        at: datetime,
        *,
        type_: str = "opened",
        product: str = "platinum_card",
        category: str = "card_fees",
        kind: str = "complaint",
        department: str | None = None,
        spread: timedelta = timedelta(minutes=20),
    ) -> list[str]:
        """``count`` cases, each with one event, spread evenly before ``at``."""
        ids = [f"S{uuid.uuid4().hex[:10].upper()}" for _ in range(count)]
        with session_scope(self.database_url, write=True) as session:
            for i, case_id in enumerate(ids):
                when = at - spread * i / max(count, 1)
                session.add(
                    CaseRow(
                        case_id=case_id,
                        kind=kind,
                        channel="mobile_banking",
                        category=category,
                        product=product,
                        priority="normal",
                        customer_id=f"C-{case_id}",
                        stage="received",
                        department=department,
                        opened_at=when,
                        opened_by="test",
                        updated_at=when,
                    )
                )
                session.flush()
                session.add(CaseEventRow(case_id=case_id, seq=1, type=type_, at=when, actor="t"))
        return ids

    async def start_monitor(self, max_iterations: int = 500) -> WorkflowHandle[Any, Any]:
        return await self.client.start_workflow(
            CrisisMonitorWorkflow.run,
            MonitorInput(max_iterations=max_iterations, id_prefix=self.prefix),
            id=f"crisis-monitor-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    async def advance(self, by: timedelta) -> None:
        await self.env.sleep(by)

    async def incident(self, key: str, generation: int = 1) -> IncidentState:
        handle = self.client.get_workflow_handle(incident_id_for(key, generation, self.prefix))
        return await handle.query(CrisisIncidentWorkflow.get_state)

    async def incident_when(
        self, key: str, check: Callable[[IncidentState], bool], generation: int = 1
    ) -> IncidentState:
        """Poll (in real time, the test server's clock held) until ``check`` holds."""
        last: object = None
        try:
            async with asyncio.timeout(20):
                while True:
                    try:
                        state = await self.incident(key, generation)
                        last = (state.linked, len(state.members), state.status)
                        if check(state):
                            return state
                    except RPCError as err:  # not started yet
                        last = err
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"incident {key} never got there; last seen: {last}") from None

    def members_in_register(self, incident_id: str) -> list[str]:
        with session_scope(self.database_url) as session:
            rows = session.exec(
                select(CrisisMember.case_id).where(col(CrisisMember.incident_id) == incident_id)
            ).all()
        return sorted(rows)


@pytest.fixture
def rules_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "crisis.toml"
    path.write_text(RULES, encoding="utf-8")
    with environment(CASE_CRISIS_FILE=str(path)):
        yield path


@pytest.fixture
def crisis(
    time_skipping_env: WorkflowEnvironment, database_env: str, rules_file: Path, task_queue: str
) -> Crisis:
    return Crisis(time_skipping_env, time_skipping_env.client, task_queue, database_env)


def worker_for(crisis: Crisis, activities: list[Callable[..., Any]] | None = None) -> Worker:
    return build_worker(
        crisis.client,
        get_settings(),
        task_queue=crisis.task_queue,
        activities=activities if activities is not None else list(ACTIVITIES),
    )


def uncached_worker(crisis: Crisis) -> Worker:
    """The worker's workflows and activities with no workflow cache: a restarted
    worker replays every history from the start, and no task waits on the stopped
    worker's sticky queue."""
    return Worker(
        crisis.client,
        task_queue=crisis.task_queue,
        workflows=[CaseWorkflow, CrisisMonitorWorkflow, CrisisIncidentWorkflow],
        activities=list(ACTIVITIES),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        max_cached_workflows=0,
        # In-flight activities finish before the worker stops: the test server would
        # otherwise hold its clock until their timeouts.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


# --- the rules -------------------------------------------------------------------------


def test_poisson_tail_matches_the_textbook_sum() -> None:
    # P(X >= 41 | 12) summed by hand from the pmf with exact factorials.
    import math

    by_hand = 1 - sum(math.exp(-12) * 12**i / math.factorial(i) for i in range(41))
    assert poisson_upper_tail(41, 12.0) == pytest.approx(by_hand, rel=1e-6)
    assert poisson_upper_tail(0, 3.0) == 1.0
    assert poisson_upper_tail(1, 1.0) == pytest.approx(1 - math.exp(-1))


def test_rules_file_refused_naming_the_key() -> None:
    bad = RULES.replace("p_value = 0.001", "p_value = 2").replace(
        'window = "PT1H"', 'window = "1h"', 1
    )
    with pytest.raises(CrisisRulesError, match=r"surge\.window"):
        parse_crisis_rules(bad.encode(), "test")
    with pytest.raises(CrisisRulesError, match=r"surge\.p_value"):
        parse_crisis_rules(RULES.replace("p_value = 0.001", "p_value = 2").encode(), "test")
    with pytest.raises(CrisisRulesError, match=r"incident\.nonsense: unknown key"):
        parse_crisis_rules(
            RULES.replace("[incident]\n", "[incident]\nnonsense = 1\n").encode(), "t"
        )
    assert parse_crisis_rules(RULES.encode(), "t").version.startswith("test-crisis+")


# --- detection -------------------------------------------------------------------------


async def test_surge_opens_one_incident_and_later_matching_cases_join(crisis: Crisis) -> None:
    async with worker_for(crisis):
        now = await crisis.now()
        week = timedelta(days=7)
        for w in range(1, 5):  # baseline: 2 complaints in this hour of each past week
            crisis.seed(2, now - w * week - timedelta(minutes=5))
        crisis.seed(3, now, product="other_card")  # another product: not in the surge
        burst = crisis.seed(15, now - timedelta(seconds=1))
        monitor = await crisis.start_monitor()
        await crisis.advance(EVERY + timedelta(seconds=5))
        state = await crisis.incident_when(SURGE_KEY, lambda s: s.linked == 15)
        assert sorted(state.members) == sorted(burst)
        assert state.explanation.startswith(
            "platinum card complaints: 15 in the last hour, 2 expected"
        )
        later = crisis.seed(4, await crisis.now(), spread=timedelta(seconds=4))
        await crisis.advance(EVERY * 3)
        state = await crisis.incident_when(SURGE_KEY, lambda s: s.linked == 19)
        assert sorted(state.members) == sorted(burst + later)
        assert crisis.members_in_register(state.incident_id) == sorted(burst + later)
        watched = await monitor.query(CrisisMonitorWorkflow.get_monitor_state)
        assert list(watched.state.active) == [SURGE_KEY], "one incident, not one per tick"
        assert watched.state.generation == {SURGE_KEY: 1}


async def test_slow_trickle_at_the_baseline_does_not_fire(crisis: Crisis) -> None:
    async with worker_for(crisis):
        now = await crisis.now()
        for w in range(1, 5):  # 12 an hour, every week
            crisis.seed(12, now - w * week_(), spread=timedelta(minutes=55))
        crisis.seed(13, now, spread=timedelta(minutes=55))  # this hour: 13, at the baseline
        monitor = await crisis.start_monitor()
        await crisis.advance(EVERY * 3)
        watched = await monitor.query(CrisisMonitorWorkflow.get_monitor_state)
        assert watched.state.evaluations >= 2
        assert watched.state.active == {}


def week_() -> timedelta:
    return timedelta(days=7)


async def test_breach_storm_fires(crisis: Crisis) -> None:
    async with worker_for(crisis):
        now = await crisis.now()
        crisis.seed(5, now, type_="clock_breached", product="loan")
        monitor = await crisis.start_monitor()
        await crisis.advance(EVERY + timedelta(seconds=5))
        watched = await monitor.query(CrisisMonitorWorkflow.get_monitor_state)
        assert watched.state.active == {}, "5 breaches stay under the storm threshold of 6"
        sixth = crisis.seed(1, await crisis.now(), type_="clock_breached", product="loan")
        await crisis.advance(EVERY + timedelta(seconds=5))
        state = await crisis.incident_when("breach_storm:", lambda s: s.linked == 6)
        assert sixth[0] in state.members
        assert state.explanation.startswith("6 deadlines missed in the last hour")


async def test_watch_list_category_fires_at_the_first_case(crisis: Crisis) -> None:
    async with worker_for(crisis):
        monitor = await crisis.start_monitor()
        await crisis.advance(EVERY + timedelta(seconds=5))
        [case_id] = crisis.seed(1, await crisis.now(), category="suspected_fraud", kind="inquiry")
        await crisis.advance(EVERY + timedelta(seconds=5))
        state = await crisis.incident_when(
            "watch_list:category=suspected_fraud", lambda s: s.linked == 1
        )
        assert state.members == [case_id]
        assert state.severity.value == "critical"
        watched = await monitor.query(CrisisMonitorWorkflow.get_monitor_state)
        assert list(watched.state.active) == ["watch_list:category=suspected_fraud"]


async def test_continue_as_new_and_worker_restart_mid_burst_keep_the_count_exact(
    dev_env: WorkflowEnvironment, database_env: str, tmp_path: Path, task_queue: str
) -> None:
    """On the dev server in real time (the time-skipping server cannot skip time
    across a continue-as-new): evaluations every second, a continue-as-new after
    every second evaluation, and the worker stopped and started in the burst."""
    path = tmp_path / "fast.toml"
    path.write_text(RULES.replace('evaluate_every = "PT20S"', 'evaluate_every = "PT1S"'))
    with environment(CASE_CRISIS_FILE=str(path)):
        crisis = Crisis(dev_env, dev_env.client, task_queue, database_env)
        seeded: list[str] = []
        now = datetime.now(UTC)
        async with worker_for(crisis):
            monitor = await crisis.start_monitor(max_iterations=2)
            seeded += crisis.seed(12, now, spread=timedelta(seconds=10))
            await crisis.incident_when(SURGE_KEY, lambda s: s.linked == 12)
            for batch in (7, 9):
                seeded += crisis.seed(batch, datetime.now(UTC), spread=timedelta(seconds=1))
                await asyncio.sleep(1.5)
        # The worker stops in the middle of the burst; more cases come in meanwhile.
        seeded += crisis.seed(6, datetime.now(UTC), spread=timedelta(seconds=1))
        await asyncio.sleep(1)
        async with worker_for(crisis):
            seeded += crisis.seed(5, datetime.now(UTC), spread=timedelta(seconds=1))
            state = await crisis.incident_when(SURGE_KEY, lambda s: s.linked == len(seeded))
            await asyncio.sleep(3)  # more evaluations: nothing may join twice
            state = await crisis.incident(SURGE_KEY)
            assert len(seeded) == 39
            assert sorted(state.members) == sorted(seeded), "each case once, none lost"
            assert crisis.members_in_register(state.incident_id) == sorted(seeded)
            described = await monitor.describe()
            assert described.run_id != monitor.first_execution_run_id, "it continued as new"
            watched = await monitor.query(CrisisMonitorWorkflow.get_monitor_state)
            assert watched.state.generation == {SURGE_KEY: 1}
            await monitor.terminate("test over")
            incident = crisis.client.get_workflow_handle(state.incident_id)
            await incident.terminate("test over")


# --- the holding message -----------------------------------------------------------------


async def test_holding_message_reaches_each_customer_once_when_the_activity_is_retried(
    crisis: Crisis,
) -> None:
    attempts: list[int] = []

    @activity.defn(name="send_incident_holding")
    async def holding_then_fail_once(input: HoldingBatchInput) -> BatchResult:
        """Stand-in wrapper: the real activity, then a failure on its first attempt."""
        result = await crisis_activities.send_incident_holding(input)
        attempts.append(activity.info().attempt)
        if activity.info().attempt == 1:
            raise ApplicationError("connection lost after the updates were sent")
        return result

    activities = [a for a in ACTIVITIES if a is not crisis_activities.send_incident_holding]
    activities.append(holding_then_fail_once)
    customers = [
        Customer(id="CUST-A", name="王小明", phone="+86 138 0000 0001", language=Language.ZH),
        Customer(id="CUST-B", name="Anna Smith", email="anna@example.com", language=Language.EN),
        Customer(id="CUST-C", name="李雷", language=Language.ZH),
    ]
    async with worker_for(crisis, activities):
        case_ids = []
        for customer in customers:
            case_id = f"H{uuid.uuid4().hex[:8].upper()}"
            opening = intake(case_id).model_copy(
                update={"customer": customer, "category": "suspected_fraud"}
            )
            handle = await crisis.client.start_workflow(
                CaseWorkflow.run,
                opening,
                id=case_workflow_id(case_id),
                task_queue=crisis.task_queue,
            )
            await handle.execute_update(CaseWorkflow.confirm_intake)
            case_ids.append(case_id)
        await crisis.start_monitor()
        key = "watch_list:category=suspected_fraud"
        await crisis.advance(EVERY + timedelta(seconds=5))
        state = await crisis.incident_when(key, lambda s: s.linked == 3)
        incident = crisis.client.get_workflow_handle(state.incident_id)
        await incident.execute_update(
            CrisisIncidentWorkflow.notify_customers, NotifyCustomersInput(actor="wang.fang")
        )
        await crisis.advance(timedelta(seconds=30))
        state = await crisis.incident_when(key, lambda s: s.holding_done == 3)
        assert state.holding_sent == 3
        assert 1 in attempts, "the first batch ran"
        assert 2 in attempts, "the first batch was retried"

        async with asyncio.timeout(20):
            while True:
                with session_scope(crisis.database_url) as session:
                    rows = session.exec(
                        select(CustomerNotification).where(
                            col(CustomerNotification.template) == "incident_holding"
                        )
                    ).all()
                if len(rows) >= 3:
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # room for a duplicate to show, if there were one
        with session_scope(crisis.database_url) as session:
            rows = session.exec(
                select(CustomerNotification).where(
                    col(CustomerNotification.template) == "incident_holding"
                )
            ).all()
        assert sorted(r.customer_id for r in rows) == ["CUST-A", "CUST-B", "CUST-C"]
        languages = {r.customer_id: r.language for r in rows}
        assert languages == {"CUST-A": "zh", "CUST-B": "en", "CUST-C": "zh"}
        chinese = next(r for r in rows if r.customer_id == "CUST-A")
        assert "专项小组" in chinese.body
        for case_id in case_ids:
            case = crisis.client.get_workflow_handle(case_workflow_id(case_id))
            shown = await case.query("get_state", result_type=CaseState)
            assert [i.incident_id for i in shown.incidents] == [state.incident_id]
            assert shown.incidents[0].holding_sent_at is not None


# --- the incident's own clocks and its close ----------------------------------------------


async def test_unacknowledged_incident_escalates_missed_updates_escalate_and_close_reviews(
    crisis: Crisis,
) -> None:
    owned = crisis.seed(3, await crisis.now())
    with session_scope(crisis.database_url, write=True) as session:
        for case_id, owner in zip(owned, ["li.na", "chen.jie", None], strict=True):
            row = session.get(CaseRow, case_id)
            assert row is not None
            row.owner = owner
            session.add(row)
            opened_at = row.opened_at
        session.add(
            CaseEventRow(case_id=owned[0], seq=2, type="clock_breached", at=opened_at, actor="t")
        )
    incident_id = f"{crisis.prefix}-manual-1"
    async with worker_for(crisis):
        handle = await crisis.client.start_workflow(
            CrisisIncidentWorkflow.run,
            IncidentOpenInput(
                incident_id=incident_id,
                key="manual:1",
                rule=RuleKind.MANUAL,
                title="Card payments failing",
                explanation="Opened by hand",
                severity=Severity.HIGH,
                opened_by="wang.fang",
            ),
            id=incident_id,
            task_queue=crisis.task_queue,
        )
        await handle.execute_update(
            CrisisIncidentWorkflow.attach_cases, AddMembersInput(case_ids=owned, actor="wang.fang")
        )
        # Nobody acknowledges within 15 minutes: the first rung hears; 15 more, the next.
        await crisis.advance(timedelta(minutes=31))
        assert staff_kinds(crisis, incident_id) == [
            ("opened", "duty_manager"),
            ("unacknowledged-1", "duty_manager"),
            ("unacknowledged-2", "head_of_service"),
        ]
        await handle.execute_update(
            CrisisIncidentWorkflow.acknowledge, AcknowledgeIncidentInput(actor="zhao.lei")
        )
        # High severity: an update is due every hour; a missed one escalates.
        await crisis.advance(timedelta(minutes=50))
        await handle.execute_update(
            CrisisIncidentWorkflow.post_update,
            StatusUpdateInput(actor="zhao.lei", message="Gateway vendor engaged"),
        )
        await crisis.advance(timedelta(minutes=50))
        assert "update-missed-1" not in dict(staff_kinds(crisis, incident_id))
        await crisis.advance(timedelta(minutes=15))
        assert dict(staff_kinds(crisis, incident_id))["update-missed-1"] == "duty_manager"

        closed = await handle.execute_update(
            CrisisIncidentWorkflow.close,
            CloseIncidentInput(actor="zhao.lei", cause="Expired gateway certificate"),
        )
        assert closed.review is not None
        impact = closed.review.impact
        assert (impact.cases, impact.customers, impact.breaches) == (3, 3, 1)
        # A closed incident has completed: the server refuses the update outright.
        with pytest.raises((WorkflowUpdateFailedError, RPCError)):
            await handle.execute_update(
                CrisisIncidentWorkflow.post_update,
                StatusUpdateInput(actor="zhao.lei", message="too late"),
            )
    with session_scope(crisis.database_url) as session:
        told = session.exec(
            select(StaffNotification).where(col(StaffNotification.kind) == "crisis")
        ).all()
    owners = sorted(str(n.recipient_user) for n in told if n.recipient_role == "case_owner")
    assert owners == ["chen.jie", "li.na"], "each owner once; the unowned case has none"


def staff_kinds(crisis: Crisis, incident_id: str) -> list[tuple[str, str]]:
    with session_scope(crisis.database_url) as session:
        rows = session.exec(
            select(StaffNotification)
            .where(col(StaffNotification.case_id) == incident_id)
            .order_by(col(StaffNotification.created_at))
        ).all()
    return [(r.notification_id.removeprefix(f"{incident_id}-"), r.recipient_role) for r in rows]
