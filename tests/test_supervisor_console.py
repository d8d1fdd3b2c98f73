"""What a supervisor does in the Temporal Web UI, on the dev server with the real
worker (issue 4): the documented stuck-case queries, signals typed into the signal
form, the case's search attributes and summaries, and personal data kept out of the
history by the payload codec.

The policy file gives some clocks seconds, so breaches happen while the test watches;
visibility trails the workflow, so every query is polled until it settles.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api import engine
from api.ids import case_id_of_workflow
from api.stuck_queries import Stuck, render
from codec.converter import case_payload_codec, connect_client
from codec.encryption import ENCODING
from codec.keys import generate_dev_key
from contracts.actions import ActionName, AnswerInput, CloseInput, TransferInput
from contracts.activities import CustomerNotificationInput
from contracts.case import (
    CaseKind,
    CaseOpenInput,
    CaseState,
    ClockStatus,
    Customer,
    Priority,
    RemedyStatus,
    Stage,
    case_workflow_id,
)
from contracts.policy import ClockName
from contracts.search_attributes import (
    CASE_BREACHED,
    CASE_DEPARTMENT,
    CASE_ESCALATION_LEVEL,
    CASE_NEXT_DEADLINE,
    CASE_OWNER,
    CASE_POLICY_VERSION,
    CASE_STAGE,
)
from settings import Settings, get_settings
from store.db import dispose_engine
from store.migrate import upgrade_to_head
from tests.case_harness import execute_action, intake
from tests.db_fixtures import environment, sqlite_url
from worker import build_worker
from workflows import visibility
from workflows.case import CaseWorkflow
from workflows.rules import ACTIONS, BY_SIGNAL

# Clocks by kind and priority, so each case of the stuck-query set lands where it must:
# urgent inquiries breach their first response in 2 s, high ones their department's
# plan 2 s after the transfer, normal ones are due within the hour (and, once closed,
# end at once); complaints keep hours. Escalations climb hourly: only a supervisor's
# escalation takes a case to level 2 within the test.
CONSOLE_POLICY = """\
version = "console-short"
timezone = "Asia/Shanghai"
calendar = "CN"
warning_share = 0.8
reopen_window = "P14D"
remedy_approval_threshold = "500.00"
currency = "CNY"

[clocks]
first_response = "PT3H"
department_plan = "PT24H"
department_result = "PT48H"
customer_update = "PT4H"
investigation = "PT48H"
final_reply = { working_days = 7 }
survey = "P7D"

[escalation]
ladder = ["team_lead", "supervisor", "branch_manager"]
interval = "PT1H"

[[overrides]]
kind = "inquiry"
priority = "urgent"
clocks = { first_response = "PT2S" }

[[overrides]]
kind = "inquiry"
priority = "high"
clocks = { department_plan = "PT2S" }

[[overrides]]
kind = "inquiry"
priority = "normal"
reopen_window = "PT1S"
clocks = { first_response = "PT30M", survey = "PT1S" }
"""

WAIT_SECONDS = 20.0
SUPERVISOR = "wang.fang"


@dataclass
class Console:
    """The module's worker on the dev server, and the cases its tests opened."""

    env: WorkflowEnvironment
    task_queue: str
    opened: list[str]

    @property
    def client(self) -> Client:
        return self.env.client

    async def open(
        self,
        kind: CaseKind,
        priority: Priority = Priority.NORMAL,
        *,
        category: str = "card_fees",
        client: Client | None = None,
        task_queue: str | None = None,
        customer: Customer | None = None,
    ) -> tuple[CaseOpenInput, WorkflowHandle[CaseWorkflow, CaseState]]:
        """Open a case as the API does; returns the intake it ran with and its handle."""
        client = client or self.client
        base = intake("pending", kind, priority=priority)
        update: dict[str, Any] = {"category": category}
        if customer is not None:
            update["customer"] = customer
        state, first = await engine.open_case(
            client,
            task_queue=task_queue or self.task_queue,
            intake=base.model_copy(update=update),
            idempotency_key=None,
        )
        assert first
        self.opened.append(case_workflow_id(state.case_id))
        used = base.model_copy(update={**update, "case_id": state.case_id})
        handle = client.get_workflow_handle(case_workflow_id(state.case_id), result_type=CaseState)
        return used, handle


@pytest.fixture(scope="module")
def console_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The worker's settings: a SQLite register, the short policy, no codec."""
    base = tmp_path_factory.mktemp("console")
    policy = base / "policy.toml"
    policy.write_text(CONSOLE_POLICY, encoding="utf-8")
    url = sqlite_url(base / "cases.db")
    upgrade_to_head(url)
    try:
        with environment(
            CASE_ENVIRONMENT="test",
            DATABASE_URL=url,
            CASE_POLICY_FILE=str(policy),
            CASE_DEPARTMENTS_FILE=None,
            CASE_CODEC_KEYS=None,
            CASE_NOTIFY_GATEWAY_URL=None,
            CASE_STAFF_WEBHOOK_URL=None,
            CASE_SMTP_HOST=None,
        ):
            yield base
    finally:
        dispose_engine(url)


@pytest.fixture(scope="module")
async def console(dev_env: WorkflowEnvironment, console_env: Path) -> AsyncIterator[Console]:
    task_queue = f"console-{uuid.uuid4()}"
    console = Console(dev_env, task_queue, [])
    async with build_worker(dev_env.client, get_settings(), task_queue=task_queue):
        try:
            yield console
        finally:
            # Leave no running case with seconds-long clocks on the shared server.
            for workflow_id in console.opened:
                description = await dev_env.client.get_workflow_handle(workflow_id).describe()
                if description.status is WorkflowExecutionStatus.RUNNING:
                    await dev_env.client.get_workflow_handle(workflow_id).terminate(
                        reason="test finished"
                    )


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, seconds: float = WAIT_SECONDS
) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.1)


async def wait_for_state(
    handle: WorkflowHandle[CaseWorkflow, CaseState], until: Callable[[CaseState], bool], what: str
) -> CaseState:
    seen: list[CaseState] = []

    async def check() -> bool:
        seen.append(await handle.query(CaseWorkflow.get_state))
        return until(seen[-1])

    await eventually(check, what)
    return seen[-1]


async def ui_signal(client: Client, workflow_id: str, name: str, body: Any) -> None:
    """A signal as the Web UI's signal form sends it: the typed JSON as one
    ``json/plain`` payload, straight to the service, no SDK converter or codec."""
    await client.workflow_service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name=name,
            input=Payloads(
                payloads=[
                    Payload(
                        metadata={"encoding": b"json/plain"},
                        data=json.dumps(body).encode("utf-8"),
                    )
                ]
            ),
            identity="temporal-web-ui",
            request_id=str(uuid.uuid4()),
        )
    )


# --- a. the documented stuck-case queries ---------------------------------------------


async def test_each_stuck_query_finds_exactly_its_cases(console: Console) -> None:
    category = f"console-{uuid.uuid4().hex[:12]}"
    urgent = (CaseKind.INQUIRY, Priority.URGENT)
    high = (CaseKind.INQUIRY, Priority.HIGH)
    normal = (CaseKind.INQUIRY, Priority.NORMAL)
    opened = await asyncio.gather(
        *(
            console.open(kind, priority, category=category)
            for kind, priority in (
                urgent,  # breached, level 1
                urgent,  # breached, escalated to level 2 by a supervisor
                high,  # with cards, its plan overdue
                high,  # with loans, its plan overdue
                normal,  # first response due within the hour
                (CaseKind.COMPLAINT, Priority.NORMAL),  # nothing due for hours
                normal,  # with cards, nothing overdue
            )
        )
    )
    ids = [handle.id for _, handle in opened]
    breached, escalated, cards_late, loans_late, due_soon, calm, cards_on_time = ids
    for index, department in ((2, "cards"), (3, "loans"), (6, "cards")):
        await engine.apply_action(
            console.client,
            opened[index][0].case_id,
            ActionName.TRANSFER,
            TransferInput(actor="li.na", department=department, reason="Needs the department"),
            update_id=None,
        )
    escalated_handle = opened[1][1]
    await wait_for_state(escalated_handle, lambda s: s.breached, "the first response to breach")
    await ui_signal(
        console.client, escalated, "escalate", {"actor": SUPERVISOR, "reason": "VIP customer"}
    )
    await wait_for_state(escalated_handle, lambda s: s.escalation_level == 2, "level 2")

    mine = f" AND CaseCategory = '{category}'"
    expected = {
        render(Stuck.BREACHED): {breached, escalated, cards_late, loans_late},
        render(Stuck.DEPARTMENT_OVERDUE, department="cards"): {cards_late},
        render(Stuck.DEPARTMENT_OVERDUE, department="loans"): {loans_late},
        # A breached clock is no longer "next": cases whose only clocks have breached
        # have no next deadline and are found by the breached query instead.
        render(Stuck.DUE_WITHIN_HOUR, now=datetime.now(UTC)): {due_soon},
        render(Stuck.ESCALATED): {escalated},
    }
    assert calm not in set().union(*expected.values())
    assert cards_on_time not in set().union(*expected.values())

    for query, cases in expected.items():
        await assert_query_settles(console.client, query + mine, cases)


async def assert_query_settles(client: Client, query: str, cases: set[str]) -> None:
    """Poll a visibility query until it returns exactly ``cases`` (visibility lags)."""
    found: set[str] = set()

    async def settled() -> bool:
        nonlocal found
        found = {execution.id async for execution in client.list_workflows(query)}
        return found == cases

    try:
        await eventually(settled, query)
    except AssertionError:
        pytest.fail(f"{query!r} found {sorted(found)}, expected {sorted(cases)}")


# --- b. signals from the Web UI's signal form -----------------------------------------


@dataclass(frozen=True)
class Step:
    signal: str
    body: dict[str, Any]
    done: Callable[[CaseState], bool]


def last_event(state: CaseState) -> tuple[str, str, str | None]:
    event = state.timeline[-1]
    return event.type, event.actor, event.detail


def investigation(state: CaseState) -> Any:
    return state.clocks[ClockName.INVESTIGATION]


def _rejections(count: int) -> Callable[[CaseState], bool]:
    return lambda state: sum(e.type == "signal_rejected" for e in state.timeline) == count


async def run_steps(
    console: Console, handle: WorkflowHandle[CaseWorkflow, CaseState], steps: list[Step]
) -> list[CaseState]:
    """Each step as the Web UI's signal form sends it. A step outside the signal set
    (``BY_SIGNAL``) is refused by signal and changes nothing; it is then taken through
    the API's update, as a supervisor would, and the walk goes on."""
    states = []
    refused = 0
    for step in steps:
        before = await handle.query(CaseWorkflow.get_state)
        await ui_signal(console.client, handle.id, step.signal, step.body)
        if ActionName(step.signal) not in BY_SIGNAL:
            refused += 1
            after = await wait_for_state(
                handle, _rejections(refused), f"{step.signal} to be refused by signal"
            )
            assert after.timeline[-1].detail is not None
            assert "not taken by signal" in after.timeline[-1].detail
            unchanged = after.model_dump(exclude={"timeline"})
            assert unchanged == before.model_dump(exclude={"timeline"}), step.signal
            await engine.apply_action(
                console.client,
                case_id_of_workflow(handle.id),
                ActionName(step.signal),
                ACTIONS[step.signal].input.model_validate(step.body),
                update_id=None,
            )
        states.append(await wait_for_state(handle, step.done, f"{step.signal} to apply"))
        rejected = [e for e in states[-1].timeline if e.type == "signal_rejected"]
        assert len(rejected) == refused, step.signal
    return states


async def test_each_supervisor_signal_has_its_effect(console: Console) -> None:
    _, complaint = await console.open(CaseKind.COMPLAINT)
    opened = await complaint.query(CaseWorkflow.get_state)
    final_reply_deadline = opened.clocks[ClockName.FINAL_REPLY].deadline
    assert final_reply_deadline is not None
    paused_with: list[timedelta] = []

    def paused(state: CaseState) -> bool:
        clock = investigation(state)
        if clock.status is not ClockStatus.PAUSED:
            return False
        assert clock.deadline is None
        paused_with.append(clock.remaining_when_paused)
        return True

    steps = [
        Step("acknowledge", {"actor": "li.na"}, lambda s: s.stage is Stage.ACKNOWLEDGED),
        Step(
            "assign_owner",
            {"actor": SUPERVISOR, "owner": "zhang.wei"},
            lambda s: s.owner == "zhang.wei" and s.stage is Stage.INVESTIGATING,
        ),
        # The supervisor reassigns: the timeline keeps who had it before.
        Step(
            "assign_owner",
            {"actor": SUPERVISOR, "owner": "liu.yang", "reason": "zhang.wei is on leave"},
            lambda s: (
                s.owner == "liu.yang" and s.timeline[-1].data.get("previous_owner") == "zhang.wei"
            ),
        ),
        Step(
            "add_note",
            {"actor": SUPERVISOR, "note": "Customer called again"},
            lambda s: last_event(s) == ("note_added", SUPERVISOR, "Customer called again"),
        ),
        Step(
            "pause_clock",
            {"actor": SUPERVISOR, "clock": "investigation", "reason": "Awaiting documents"},
            paused,
        ),
        Step(
            "extend_clock",
            {"actor": SUPERVISOR, "clock": "investigation", "by": "PT2H", "reason": "Archive"},
            lambda s: investigation(s).extensions == 1,
        ),
        Step(
            "resume_clock",
            {"actor": SUPERVISOR, "clock": "investigation"},
            lambda s: investigation(s).status is ClockStatus.RUNNING,
        ),
        Step(
            "extend_clock",
            {"actor": SUPERVISOR, "clock": "final_reply", "working_days": 1, "reason": "Audit"},
            lambda s: s.clocks[ClockName.FINAL_REPLY].extensions == 1,
        ),
        Step(
            "escalate",
            {"actor": SUPERVISOR, "reason": "Complaint to the regulator threatened"},
            lambda s: s.escalation_level == 1,
        ),
        Step(
            "escalate",
            {"actor": SUPERVISOR, "reason": "Regulator called"},
            lambda s: s.escalation_level == 2,
        ),
        Step(
            "record_investigation",
            {"actor": "liu.yang", "findings": "Fee charged in error"},
            lambda s: s.stage is Stage.AWAITING_FINAL_REPLY,
        ),
        Step(
            "propose_remedy",
            {
                "actor": "liu.yang",
                "kind": "compensation",
                "description": "Goodwill payment",
                "amount": "800.00",
            },
            lambda s: len(s.remedies) == 1,
        ),
        Step(
            "decide_remedy",
            {"actor": SUPERVISOR, "remedy_id": "R1", "approve": True},
            lambda s: s.remedies[0].status is RemedyStatus.APPROVED,
        ),
        Step(
            "send_final_reply",
            {"actor": "liu.yang", "reply": "Refunded with a goodwill payment."},
            lambda s: s.stage is Stage.RESOLVED,
        ),
        Step("close", {"actor": "liu.yang"}, lambda s: s.stage is Stage.CLOSED),
        Step(
            "record_feedback", {"actor": "customer", "score": 4}, lambda s: s.feedback is not None
        ),
        Step(
            "reopen",
            {"actor": "customer", "reason": "Charged again"},
            lambda s: s.stage is Stage.RECEIVED,
        ),
        # A crisis incident links the case and has it send its holding message.
        Step(
            "join_incident",
            {"actor": "crisis-monitor", "incident_id": "crisis-console-1", "title": "Fee surge"},
            lambda s: [i.incident_id for i in s.incidents] == ["crisis-console-1"],
        ),
        Step(
            "send_incident_holding",
            {"actor": "crisis-monitor", "incident_id": "crisis-console-1"},
            lambda s: s.incidents[0].holding_sent_at is not None,
        ),
    ]
    states = await run_steps(console, complaint, steps)

    # The clock arithmetic behind the pause, extension and resume.
    after_extension, after_resume = states[5], states[6]
    assert investigation(after_extension).remaining_when_paused == paused_with[-1] + timedelta(
        hours=2
    )
    resumed = investigation(after_resume)
    resumed_at = after_resume.timeline[-1].at
    assert resumed.deadline == resumed_at + investigation(after_extension).remaining_when_paused
    later = states[7].clocks[ClockName.FINAL_REPLY].deadline
    assert later is not None
    assert later > final_reply_deadline
    assert states[9].timeline[-1].type == "escalated"
    assert states[9].timeline[-1].data["level"] == 2
    assert states[12].remedies[0].amount == Decimal("800.00")

    # The inquiry-only actions, as signals too.
    _, inquiry = await console.open(CaseKind.INQUIRY)
    await run_steps(
        console,
        inquiry,
        [
            Step(
                "transfer",
                {"actor": "li.na", "department": "cards", "reason": "Card dispute"},
                lambda s: s.department == "cards",
            ),
            Step(
                "record_department_plan",
                {"actor": "cards-desk", "plan": "Review the charge"},
                lambda s: s.stage is Stage.AWAITING_DEPARTMENT_RESULT,
            ),
            Step(
                "record_department_result",
                {"actor": "cards-desk", "result": "Charge reversed"},
                lambda s: s.stage is Stage.AWAITING_CUSTOMER_UPDATE,
            ),
            Step(
                "update_customer",
                {"actor": "li.na", "message": "The charge is reversed."},
                lambda s: s.stage is Stage.RESOLVED,
            ),
        ],
    )
    _, simple = await console.open(CaseKind.INQUIRY)
    await run_steps(
        console,
        simple,
        [
            Step(
                "answer",
                {"actor": "li.na", "answer": "Limits reset at midnight."},
                lambda s: s.stage is Stage.RESOLVED,
            )
        ],
    )
    # A regulator's extension needs its approver and the customer told: refused by
    # signal (this case runs no regulator's clock, so no update follows).
    before = await simple.query(CaseWorkflow.get_state)
    await ui_signal(
        console.client,
        simple.id,
        "extend_regulator_clock",
        {"actor": SUPERVISOR, "extension": "complex", "reason": "Two banks involved"},
    )
    refused_before = sum(e.type == "signal_rejected" for e in before.timeline)
    after = await wait_for_state(
        simple, _rejections(refused_before + 1), "extend_regulator_clock refused"
    )
    assert "not taken by signal" in (after.timeline[-1].detail or "")
    assert after.model_dump(exclude={"timeline"}) == before.model_dump(exclude={"timeline"})
    signalled = {step.signal for step in steps} | {
        "extend_regulator_clock",
        "transfer",
        "record_department_plan",
        "record_department_result",
        "update_customer",
        "answer",
    }
    assert signalled == set(ACTIONS), "every action is exercised as a signal"


@pytest.mark.parametrize(
    ("signal", "body", "reason"),
    [
        pytest.param("assign_owner", {"actor": SUPERVISOR}, "owner", id="missing-field"),
        pytest.param("escalate", {"actor": SUPERVISOR, "reason": 42}, "reason", id="wrong-type"),
        pytest.param("reassign", {"actor": SUPERVISOR, "owner": "x"}, "reassign", id="unknown"),
        pytest.param("add_note", ["not", "an", "object"], "dict", id="not-an-object"),
        pytest.param(
            "add_note", {"actor": SUPERVISOR, "note": "hi", "colour": "red"}, "colour", id="extra"
        ),
        pytest.param(
            "record_investigation",
            {"actor": "li.na", "findings": "done"},
            "while the case is received",
            id="wrong-for-case",
        ),
        pytest.param(
            "decide_remedy",
            {"actor": SUPERVISOR, "remedy_id": "R1", "approve": True},
            "not taken by signal",
            id="not-by-signal",
        ),
    ],
)
async def test_a_malformed_signal_is_recorded_and_the_case_runs_on(
    console: Console, signal: str, body: Any, reason: str
) -> None:
    _, handle = await console.open(CaseKind.COMPLAINT)
    before = await handle.query(CaseWorkflow.get_state)
    await ui_signal(console.client, handle.id, signal, body)
    after = await wait_for_state(
        handle, lambda s: len(s.timeline) > len(before.timeline), "the signal to be handled"
    )
    [rejected] = after.timeline[len(before.timeline) :]
    assert rejected.type == "signal_rejected"
    assert rejected.data == {"signal": signal}
    assert rejected.detail is not None
    assert reason in rejected.detail
    assert after.model_dump(exclude={"timeline"}) == before.model_dump(exclude={"timeline"})

    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    history = await handle.fetch_history()
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in {e.event_type for e in history.events}
    # And the case still takes actions.
    await ui_signal(console.client, handle.id, "add_note", {"actor": "li.na", "note": "ok"})
    await wait_for_state(handle, lambda s: s.timeline[-1].type == "note_added", "the note")


# --- c. search attributes, summaries and current details ------------------------------


def summaries(history: WorkflowHistory) -> dict[EventType.ValueType, set[str]]:
    found: dict[EventType.ValueType, set[str]] = {}
    converter = pydantic_data_converter.payload_converter
    for event in history.events:
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
            text = converter.from_payload(event.user_metadata.summary, str)
            found.setdefault(event.event_type, set()).add(text)
    return found


async def test_search_attributes_and_user_metadata_show_the_case(console: Console) -> None:
    opened, handle = await console.open(CaseKind.INQUIRY, Priority.URGENT)
    breached = await wait_for_state(handle, lambda s: s.breached, "the first response to breach")

    async def attributes_show(expected: dict[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = {}

        async def check() -> bool:
            attributes = (await handle.describe()).typed_search_attributes
            shown.clear()
            shown.update(
                {
                    key.name: attributes.get(key)
                    for key in (
                        CASE_STAGE,
                        CASE_OWNER,
                        CASE_DEPARTMENT,
                        CASE_BREACHED,
                        CASE_NEXT_DEADLINE,
                        CASE_ESCALATION_LEVEL,
                        CASE_POLICY_VERSION,
                    )
                }
            )
            return shown == expected

        try:
            await eventually(check, "the search attributes")
        except AssertionError:
            pytest.fail(f"search attributes {shown}, expected {expected}")
        return shown

    assert breached.policy_version is not None
    assert breached.policy_version.startswith("console-short+")
    # Breached and unanswered: nothing left running, so no next deadline.
    await attributes_show(
        {
            "CaseStage": "received",
            "CaseOwner": None,
            "CaseDepartment": None,
            "CaseBreached": True,
            "CaseNextDeadline": None,
            "CaseEscalationLevel": 1,
            "CasePolicyVersion": breached.policy_version,
        }
    )

    for name, body in (
        ("assign_owner", {"actor": SUPERVISOR, "owner": "zhang.wei"}),
        ("escalate", {"actor": SUPERVISOR, "reason": "Third call today"}),
    ):
        await ui_signal(console.client, handle.id, name, body)
    await wait_for_state(handle, lambda s: s.escalation_level == 2, "the escalation")
    state = await engine.apply_action(
        console.client,
        opened.case_id,
        ActionName.TRANSFER,
        TransferInput(actor="zhang.wei", department="cards", reason="Card dispute"),
        update_id=None,
    )
    plan_deadline = state.clocks[ClockName.DEPARTMENT_PLAN].deadline
    assert plan_deadline is not None
    await attributes_show(
        {
            "CaseStage": "awaiting_department_plan",
            "CaseOwner": "zhang.wei",
            "CaseDepartment": "cards",
            "CaseBreached": False,
            "CaseNextDeadline": plan_deadline,
            "CaseEscalationLevel": 2,
            "CasePolicyVersion": breached.policy_version,
        }
    )

    # The fixed summary and details the API set at start, and the live details.
    description = await handle.describe()
    assert await description.static_summary() == visibility.static_summary(opened)
    assert await description.static_details() == visibility.static_details(opened)
    assert opened.customer.name not in (await description.static_summary() or "")
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert isinstance(metadata, WorkflowMetadata)
    details = metadata.current_details
    assert f"stage **{Stage.AWAITING_DEPARTMENT_PLAN.value}**" in details
    assert "Waiting for: the department's handling plan" in details
    assert "Owner: zhang.wei · Department: cards · Escalation level: 2" in details
    assert "| Department-plan | running |" in details
    assert opened.customer.name not in details
    assert "acknowledge" in {u.name for u in metadata.definition.update_definitions}

    # Timers and activities carry the summaries the Web UI's timeline shows; the
    # transfer's effects are scheduled just after the update answered.
    summary = await description.static_summary()
    assert summary is not None
    expected = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {summary},
        EventType.EVENT_TYPE_TIMER_STARTED: {
            "First-response warning",
            "First-response deadline",
            "First-response escalation to level 2",
        },
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
            "Notify customer: received",
            "Alert frontline_agents: warning",
            "Alert frontline_agents: breach",
            "Alert team_lead: escalation",
            "Send to department cards",
            "Notify customer: transferred",
        },
        # Local activities: recorded as markers, with their summaries.
        EventType.EVENT_TYPE_MARKER_RECORDED: {
            "Resolve deadline policy and intake deadlines",
            "Update case register",
        },
    }
    shown: dict[EventType.ValueType, set[str]] = {}

    async def all_shown() -> bool:
        shown.clear()
        shown.update(summaries(await handle.fetch_history()))
        return all(texts <= shown.get(type_, set()) for type_, texts in expected.items())

    try:
        await eventually(all_shown, "the summaries in history")
    except AssertionError:
        pytest.fail(f"history summaries {shown}, expected at least {expected}")


# --- d. personal data stays out of the history ----------------------------------------

PERSON = Customer(
    id="CUST-ENC-1",
    name="欧阳娜娜 Nana Ouyang",
    phone="+86 139 1234 5678",
    email="nana.ouyang@example.cn",
)
SECRETS = [PERSON.name, PERSON.phone or "", PERSON.email or ""]


def leaks(history: WorkflowHistory) -> list[str]:
    """Each secret found in the history's protobuf bytes or its JSON, in any form."""
    raw = History(events=history.events).SerializeToString()
    text = history.to_json()
    found = []
    for secret in SECRETS:
        forms = {secret, json.dumps(secret)[1:-1]}
        if secret.encode("utf-8") in raw or any(form in text for form in forms):
            found.append(secret)
    return found


async def run_case(
    console: Console, client: Client, task_queue: str
) -> WorkflowHandle[CaseWorkflow, CaseState]:
    """A normal inquiry from intake to completion, with a note typed in the Web UI."""
    opened, handle = await console.open(
        CaseKind.INQUIRY, client=client, task_queue=task_queue, customer=PERSON
    )
    # The Web UI sends plain JSON even when the workers encrypt: the codec passes it.
    await ui_signal(client, handle.id, "add_note", {"actor": SUPERVISOR, "note": "Checked"})
    await wait_for_state(handle, lambda s: s.timeline[-1].type == "note_added", "the note")
    await execute_action(
        handle, ActionName.ANSWER, AnswerInput(actor="li.na", answer="Your card is on its way.")
    )
    await execute_action(handle, ActionName.CLOSE, CloseInput(actor="li.na"))
    async with asyncio.timeout(WAIT_SECONDS):
        final = await handle.result()  # reopen window and survey of 1 s each
    assert final.stage is Stage.CLOSED
    assert opened.customer == PERSON
    return handle


async def test_personal_data_is_encrypted_in_history(console: Console) -> None:
    codec_settings = Settings(CASE_ENVIRONMENT="test", CASE_CODEC_KEYS=generate_dev_key())
    codec = case_payload_codec(codec_settings)
    assert codec is not None
    target = console.client.service_client.config.target_host
    encrypting = await connect_client(
        codec_settings, target_host=target, namespace=console.client.namespace
    )
    plain = console.client  # no codec: sees what the server stores
    task_queue = f"console-encrypted-{uuid.uuid4()}"
    async with build_worker(encrypting, codec_settings, task_queue=task_queue):
        encrypted = await run_case(console, encrypting, task_queue)
    # The control: the same case without the codec has the data in plain sight, so
    # the leak check below can fail.
    unencrypted = await run_case(console, plain, console.task_queue)
    assert leaks(await plain.get_workflow_handle(unencrypted.id).fetch_history()) == SECRETS

    stored = await plain.get_workflow_handle(encrypted.id).fetch_history()
    assert leaks(stored) == []

    # What is stored is ciphertext, and the codec turns it back into the intake.
    started = stored.events[0].workflow_execution_started_event_attributes
    [sealed] = started.input.payloads
    assert sealed.metadata["encoding"] == ENCODING
    [opened] = await codec.decode([sealed])
    intake = pydantic_data_converter.payload_converter.from_payload(opened, CaseOpenInput)
    assert intake.customer == PERSON
    notices = [
        e.activity_task_scheduled_event_attributes
        for e in stored.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "notify_customer"
    ]
    assert notices
    for notice in notices:
        [sealed] = notice.input.payloads
        assert sealed.metadata["encoding"] == ENCODING
        [plain_payload] = await codec.decode([sealed])
        message = pydantic_data_converter.payload_converter.from_payload(
            plain_payload, CustomerNotificationInput
        )
        assert message.customer.phone == PERSON.phone
    # A client with the codec reads the case as usual.
    state = await encrypting.get_workflow_handle(encrypted.id, result_type=CaseState).result()
    assert state.customer_id == PERSON.id
