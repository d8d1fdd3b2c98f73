"""A complaint from intake to the end of its reopen window, on the real parts: the dev
server, the worker from ``worker.build_worker`` with its real activities, and the
register on SQLite and on PostgreSQL.

The policy file gives the first response two seconds, so the clock really warns and
breaches on the server's own timers while the test watches; everything else keeps
the plan's shape. The case is opened and handled as the API does it
(``api.engine``): update-with-start, then one update per action.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api import engine
from contracts.actions import (
    AcknowledgeInput,
    Action,
    ActionName,
    AssignOwnerInput,
    CloseInput,
    ProposeRemedyInput,
    RecordFeedbackInput,
    RecordInvestigationInput,
    SendFinalReplyInput,
)
from contracts.case import (
    CaseKind,
    CaseState,
    ClockStatus,
    RemedyKind,
    RemedyStatus,
    Stage,
    case_workflow_id,
)
from contracts.policy import ClockName
from settings import get_settings
from store.cases import get_case_row, list_case_events
from store.db import session_scope
from store.feedback import get_feedback
from store.ledger import remedies_for_case
from store.outbox import customer_notifications_for_case, staff_notifications_for_case
from tests.case_harness import intake
from tests.db_fixtures import environment
from worker import build_worker

# The plan's shape (policy/default.toml) with seconds where the test must see a clock
# fire: warn at 1 s, breach at 2 s, and a reopen window of 2 s so the case completes.
SHORT_POLICY = """\
version = "e2e-short"
timezone = "Asia/Shanghai"
calendar = "CN"
warning_share = 0.5
reopen_window = "PT2S"
remedy_approval_threshold = "500.00"
currency = "CNY"

[clocks]
first_response = "PT2S"
department_plan = "PT24H"
department_result = "PT48H"
customer_update = "PT4H"
investigation = "PT48H"
final_reply = { working_days = 7 }
survey = "P7D"

[escalation]
ladder = ["team_lead", "supervisor", "branch_manager"]
interval = "PT1H"
"""

WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class Stack:
    env: WorkflowEnvironment
    task_queue: str


@pytest.fixture
def short_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(SHORT_POLICY, encoding="utf-8")
    return path


@pytest.fixture
def register_env(database_url: str, short_policy: Path) -> Iterator[str]:
    """The worker's activities read ``get_settings()``: point it at this register and
    this policy, with no codec (the dev server fixture's client has none)."""
    with environment(
        CASE_ENVIRONMENT="test",
        DATABASE_URL=database_url,
        CASE_POLICY_FILE=str(short_policy),
        CASE_DEPARTMENTS_FILE=None,
        CASE_CODEC_KEYS=None,
        CASE_NOTIFY_GATEWAY_URL=None,
        CASE_STAFF_WEBHOOK_URL=None,
        CASE_SMTP_HOST=None,
    ):
        yield database_url


async def wait_for_state(
    env: WorkflowEnvironment, case_id: str, until: Callable[[CaseState], bool]
) -> CaseState:
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            state = await engine.get_state(env.client, case_id)
            if until(state):
                return state
            await asyncio.sleep(0.1)


# The tests run every workflow in the SDK's sandbox; a production worker runs without
# it (CASE_WORKER_SANDBOX off), so the whole path runs both ways.
@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandboxed", "unsandboxed"])
async def test_complaint_end_to_end_on_the_real_worker_and_register(
    dev_env: WorkflowEnvironment, register_env: str, task_queue: str, sandboxed: bool
) -> None:
    client = dev_env.client
    worker = build_worker(client, get_settings(), task_queue=task_queue, sandboxed=sandboxed)
    async with worker:
        # Intake, as POST /v1/cases does it.
        opened, first = await engine.open_case(
            client,
            task_queue=task_queue,
            intake=intake("pending", CaseKind.COMPLAINT),
            idempotency_key=f"e2e-{uuid.uuid4()}",
        )
        assert first
        case_id = opened.case_id
        assert opened.policy_version is not None
        assert opened.policy_version.startswith("e2e-short+")
        assert set(opened.clocks) == {
            ClockName.FIRST_RESPONSE,
            ClockName.INVESTIGATION,
            ClockName.FINAL_REPLY,
        }

        # Nobody answers: the two-second first-response clock warns, then breaches.
        breached = await wait_for_state(dev_env, case_id, lambda s: s.breached)
        clock = breached.clocks[ClockName.FIRST_RESPONSE]
        assert clock.status is ClockStatus.BREACHED
        assert clock.escalation_level == 1

        async def act(name: ActionName, action: Action) -> CaseState:
            """One handler action, as POST /v1/cases/{id}/... sends it."""
            return await engine.apply_action(
                client, case_id, name, action, update_id=f"e2e-{uuid.uuid4()}"
            )

        await act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
        state = await act(
            ActionName.ASSIGN_OWNER, AssignOwnerInput(actor="wang.fang", owner="zhang.wei")
        )
        assert state.stage is Stage.INVESTIGATING
        assert not state.breached  # the late first response is met now
        await act(
            ActionName.RECORD_INVESTIGATION,
            RecordInvestigationInput(actor="zhang.wei", findings="The waiver was not applied."),
        )
        state = await act(
            ActionName.PROPOSE_REMEDY,
            ProposeRemedyInput(
                actor="zhang.wei",
                kind=RemedyKind.FEE_REFUND,
                description="Annual fee refund",
                amount=Decimal("200.00"),
            ),
        )
        assert state.remedies[0].status is RemedyStatus.APPROVED  # under the threshold
        await act(
            ActionName.SEND_FINAL_REPLY,
            SendFinalReplyInput(actor="zhang.wei", reply="The annual fee is refunded."),
        )
        await act(ActionName.CLOSE, CloseInput(actor="zhang.wei"))
        await act(
            ActionName.RECORD_FEEDBACK,
            RecordFeedbackInput(actor="customer", score=5, comment="Sorted within the week"),
        )

        # The reopen window (2 s) ends and the workflow completes, its effects done.
        handle = client.get_workflow_handle(case_workflow_id(case_id), result_type=CaseState)
        async with asyncio.timeout(WAIT_SECONDS):
            final = await handle.result()
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED

    assert final.stage is Stage.CLOSED
    timeline = [event.type for event in final.timeline]
    for expected in (
        "opened",
        "entered_in_complaint_register",
        "clock_warning",
        "clock_breached",
        "acknowledged",
        "owner_assigned",
        "investigation_recorded",
        "remedy_proposed",
        "final_reply_sent",
        "closed",
        "feedback_received",
    ):
        assert expected in timeline
    assert timeline.index("clock_warning") < timeline.index("clock_breached")

    with session_scope(register_env) as session:
        # The register (R4.1): the case's row, and its timeline stored once each.
        row = get_case_row(session, case_id=case_id)
        assert row is not None
        assert (row.kind, row.stage, row.owner) == ("complaint", "closed", "zhang.wei")
        assert row.closed_at is not None
        assert not row.breached
        assert row.policy_version == final.policy_version
        assert row.last_seq == len(final.timeline)
        assert row.clocks["first_response"]["status"] == "breached"
        assert row.clocks["first_response"]["met_at"] is not None
        events = list_case_events(session, case_id=case_id)
        assert [(e.seq, e.type, e.actor) for e in events] == [
            (e.seq, e.type, e.actor) for e in final.timeline
        ]

        # The customer heard at every step (R2.2), by SMS to the phone on file.
        customer = customer_notifications_for_case(session, case_id=case_id)
        assert [n.template for n in customer] == [
            "received",
            "acknowledged",
            "final_reply",
            "closed_survey",
        ]
        assert {(n.channel, n.recipient) for n in customer} == {("sms", "+86 138 0000 0000")}
        assert all(case_id in n.body and "王小明" in n.body for n in customer)
        assert "200.00" in customer[2].body

        # Staff were warned before the deadline and alerted at the breach (R2.1).
        staff = staff_notifications_for_case(session, case_id=case_id)
        assert [(n.kind, n.clock, n.recipient_role, n.level) for n in staff] == [
            ("warning", "first_response", "frontline_agents", 0),
            ("breach", "first_response", "frontline_agents", 0),
            ("escalation", "first_response", "team_lead", 1),
        ]

        # One ledger entry for the one remedy (R4.4).
        [entry] = remedies_for_case(session, case_id=case_id)
        assert (entry.remedy_id, entry.kind, entry.amount, entry.status) == (
            "R1",
            "fee_refund",
            Decimal("200.00"),
            "approved",
        )

        # The feedback record (R6.1, R7.3), traced back to the owner.
        feedback_seq = timeline.index("feedback_received") + 1
        record = get_feedback(session, feedback_id=f"{case_id}-F{feedback_seq}")
        assert record is not None
        assert (record.score, record.owner, record.channel) == (5, "zhang.wei", "mobile_banking")
        assert record.comment == "Sorted within the week"
