"""Record finished cases' histories for the replay tests (docs/architecture.md, rule 6).

    python -m tests.record_histories            # every scenario
    python -m tests.record_histories NAME ...   # only these

Each scenario runs one case on the time-skipping test server (days of deadlines pass
in moments) until its workflow *completes*, then writes the history with
``WorkflowHistory.to_json()`` to ``tests/histories/<name>.json``. The converter is the
plain pydantic one, without the codec, so the files can be read and diffed.

The case is opened as the API opens it (update-with-start, with the initial search
attributes and the static summary), so the history holds the same commands a
production case does, search attribute upserts included. The policy and calendar
activities are the real ones on the built-in ``default.toml``; the side effects are
the stand-ins of ``tests/case_harness.py``.

When the workflow changes on purpose (behind ``workflow.patched``), keep the old
files: ``tests/test_replay.py`` replays every ``*.json`` in the folder, and old
histories are the proof that cases already running still replay. Rename an old file
(``complaint_full.v1.json``) before recording its scenario again.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts.actions import (
    AcknowledgeInput,
    Action,
    ActionName,
    AddNoteInput,
    AnswerInput,
    AssignOwnerInput,
    CloseInput,
    DecideRemedyInput,
    EscalateInput,
    ExtendClockInput,
    ExtendRegulatorClockInput,
    PauseClockInput,
    ProposeRemedyInput,
    RecordDepartmentPlanInput,
    RecordDepartmentResultInput,
    RecordFeedbackInput,
    RecordInvestigationInput,
    ReopenInput,
    ResumeClockInput,
    SendFinalReplyInput,
    TransferInput,
    UpdateCustomerInput,
)
from contracts.case import CaseKind, CaseOpenInput, CaseState, RemedyKind, Stage, case_workflow_id
from contracts.policy import ClockName, ComplaintOutcome
from contracts.search_attributes import CASE_SEARCH_ATTRIBUTES
from tests.case_harness import EffectLog, case_worker, execute_action, intake
from tests.conftest import binary
from tests.db_fixtures import environment
from workflows import visibility
from workflows.case import CaseWorkflow

HISTORIES = Path(__file__).parent / "histories"
TASK_QUEUE = "record-histories"
# Past the survey (7 days) and the reopen window (14 days) of the default policy.
UNTIL_FINISHED = timedelta(days=15)
SIGNAL_WAIT_SECONDS = 10.0


@dataclass
class Case:
    """One case being walked through a scenario on the time-skipping server."""

    env: WorkflowEnvironment
    handle: WorkflowHandle[CaseWorkflow, CaseState]

    async def act(self, name: ActionName, input: Action) -> CaseState:
        """An update, as the API sends it."""
        return await execute_action(self.handle, name, input)

    async def state(self) -> CaseState:
        return await self.handle.query(CaseWorkflow.get_state)

    async def signal(self, name: str, *args: Any) -> CaseState:
        """A signal, as the Web UI sends it (a JSON object), waited on until the case's
        timeline shows it was handled (applied or rejected)."""
        before = len((await self.state()).timeline)
        await self.handle.signal(name, args=list(args))
        async with asyncio.timeout(SIGNAL_WAIT_SECONDS):
            while True:
                state = await self.state()
                if len(state.timeline) > before:
                    return state
                await asyncio.sleep(0.05)

    async def sleep(self, duration: timedelta) -> None:
        """Let the case's own timers run for ``duration`` of server time."""
        await self.env.sleep(duration)


def expect(condition: bool, what: str) -> None:
    """A scenario that did not go as described must not be recorded as if it had."""
    if not condition:
        raise RuntimeError(f"scenario went wrong: {what}")


def events(state: CaseState) -> list[str]:
    return [e.type for e in state.timeline]


async def inquiry_answered(case: Case) -> None:
    """R3.3: a simple question answered at once, closed, the survey answered."""
    state = await case.act(
        ActionName.ANSWER, AnswerInput(actor="li.na", answer="Your new card ships on Monday.")
    )
    expect(state.stage is Stage.RESOLVED, "answer resolves")
    await case.act(ActionName.CLOSE, CloseInput(actor="li.na"))
    state = await case.act(
        ActionName.RECORD_FEEDBACK,
        RecordFeedbackInput(actor="customer", score=5, comment="Quick and clear"),
    )
    expect(state.feedback is not None, "feedback recorded")


async def inquiry_transferred(case: Case) -> None:
    """R3.4-R3.7: transferred to a department, its plan and result, the customer told;
    the survey is left to lapse."""
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    await case.act(
        ActionName.TRANSFER,
        TransferInput(actor="li.na", department="cards", reason="Disputed annual fee"),
    )
    await case.act(
        ActionName.UPDATE_CUSTOMER,
        UpdateCustomerInput(actor="li.na", message="Card Services is looking into it."),
    )
    state = await case.act(
        ActionName.RECORD_DEPARTMENT_PLAN,
        RecordDepartmentPlanInput(actor="cards-desk", plan="Check the waiver against the fee run."),
    )
    expect(state.stage is Stage.AWAITING_DEPARTMENT_RESULT, "plan recorded")
    await case.act(
        ActionName.RECORD_DEPARTMENT_RESULT,
        RecordDepartmentResultInput(actor="cards-desk", result="Fee reversed on 3 March."),
    )
    state = await case.act(
        ActionName.UPDATE_CUSTOMER,
        UpdateCustomerInput(actor="li.na", message="The fee has been reversed."),
    )
    expect(state.stage is Stage.RESOLVED, "customer update resolves the inquiry")
    await case.act(ActionName.CLOSE, CloseInput(actor="li.na"))


async def complaint_full(case: Case) -> None:
    """R4: owner, investigation, a department's help, remedies (one needing approval),
    final reply, close, reopen, the second round, close again, survey answered."""
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    state = await case.act(
        ActionName.ASSIGN_OWNER, AssignOwnerInput(actor="wang.fang", owner="zhang.wei")
    )
    expect(state.stage is Stage.INVESTIGATING, "owner starts the investigation")
    await case.act(
        ActionName.ADD_NOTE, AddNoteInput(actor="zhang.wei", note="Called the customer.")
    )
    await case.act(
        ActionName.RECORD_INVESTIGATION,
        RecordInvestigationInput(actor="zhang.wei", findings="The waiver was not applied."),
    )
    await case.act(
        ActionName.TRANSFER,
        TransferInput(actor="zhang.wei", department="cards", reason="Reverse the fee"),
    )
    await case.act(
        ActionName.RECORD_DEPARTMENT_RESULT,
        RecordDepartmentResultInput(actor="cards-desk", result="Fee reversed."),
    )
    state = await case.act(
        ActionName.UPDATE_CUSTOMER,
        UpdateCustomerInput(actor="zhang.wei", message="The fee has been reversed."),
    )
    expect(state.stage is Stage.AWAITING_FINAL_REPLY, "back to the final reply")
    await case.act(
        ActionName.PROPOSE_REMEDY,
        ProposeRemedyInput(
            actor="zhang.wei",
            kind=RemedyKind.FEE_REFUND,
            description="Annual fee refund",
            amount=Decimal("120.00"),
        ),
    )
    state = await case.act(
        ActionName.PROPOSE_REMEDY,
        ProposeRemedyInput(
            actor="zhang.wei",
            kind=RemedyKind.COMPENSATION,
            description="Goodwill compensation",
            amount=Decimal("800.00"),
        ),
    )
    pending = state.remedies[-1]
    await case.act(
        ActionName.DECIDE_REMEDY,
        DecideRemedyInput(actor="wang.fang", remedy_id=pending.remedy_id),
    )
    await case.act(
        ActionName.SEND_FINAL_REPLY,
        SendFinalReplyInput(actor="zhang.wei", reply="The fee is refunded with compensation."),
    )
    await case.act(ActionName.CLOSE, CloseInput(actor="zhang.wei"))
    state = await case.act(
        ActionName.REOPEN, ReopenInput(actor="customer", reason="Charged again this month")
    )
    expect(state.stage is Stage.RECEIVED, "reopened")
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    await case.act(
        ActionName.RECORD_INVESTIGATION,
        RecordInvestigationInput(actor="zhang.wei", findings="The waiver flag was reset."),
    )
    await case.act(
        ActionName.SEND_FINAL_REPLY,
        SendFinalReplyInput(actor="zhang.wei", reply="The waiver is fixed for good."),
    )
    await case.act(ActionName.CLOSE, CloseInput(actor="zhang.wei"))
    await case.act(ActionName.RECORD_FEEDBACK, RecordFeedbackInput(actor="customer", score=4))


async def complaint_clocks(case: Case) -> None:
    """R2.1, R8: clocks warn, breach and climb the escalation ladder; a clock paused,
    resumed and extended (by a duration and by working days); a manual escalation."""
    await case.sleep(timedelta(minutes=4, seconds=30))  # first-response warning at 4 min
    await case.sleep(timedelta(hours=5))  # breach at 5 min, rungs 2 and 3 two hours apart
    state = await case.state()
    clock = state.clocks[ClockName.FIRST_RESPONSE]
    expect(clock.escalation_level == 3, "first response escalated to the top")
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    await case.act(ActionName.ASSIGN_OWNER, AssignOwnerInput(actor="wang.fang", owner="zhang.wei"))
    await case.act(
        ActionName.PAUSE_CLOCK,
        PauseClockInput(actor="wang.fang", clock=ClockName.INVESTIGATION, reason="Customer abroad"),
    )
    await case.sleep(timedelta(days=1))
    await case.act(
        ActionName.RESUME_CLOCK,
        ResumeClockInput(actor="wang.fang", clock=ClockName.INVESTIGATION),
    )
    await case.act(
        ActionName.EXTEND_CLOCK,
        ExtendClockInput(
            actor="wang.fang",
            clock=ClockName.INVESTIGATION,
            by=timedelta(hours=12),
            reason="Waiting for statements",
        ),
    )
    await case.act(
        ActionName.EXTEND_CLOCK,
        ExtendClockInput(
            actor="wang.fang",
            clock=ClockName.FINAL_REPLY,
            working_days=2,
            reason="Statements from the archive",
        ),
    )
    await case.act(
        ActionName.ESCALATE, EscalateInput(actor="wang.fang", reason="Customer called twice")
    )
    await case.sleep(timedelta(days=3))  # the investigation warns, breaches, escalates
    state = await case.state()
    expect(state.clocks[ClockName.INVESTIGATION].escalation_level >= 2, "investigation escalated")
    await case.act(
        ActionName.RECORD_INVESTIGATION,
        RecordInvestigationInput(actor="zhang.wei", findings="Statement error", upheld=True),
    )
    await case.act(
        ActionName.SEND_FINAL_REPLY,
        SendFinalReplyInput(actor="zhang.wei", reply="The statement has been corrected."),
    )
    await case.act(ActionName.CLOSE, CloseInput(actor="zhang.wei"))


async def rejected_signals(case: Case) -> None:
    """Signals from systems and the Web UI that do not fit are recorded as rejected and
    never fail the case; so are steps that are not taken by signal (the answer, the
    close), which go through the API's updates; a note by signal is applied."""
    await case.signal("frobnicate", {"actor": "wang.fang"})
    await case.signal("assign_owner", {"actor": "wang.fang"})
    await case.signal("record_feedback", {"actor": "customer", "score": "excellent"})
    await case.signal("add_note", {"actor": "wang.fang", "note": "x", "colour": "red"})
    await case.signal("add_note", "just text")
    await case.signal("escalate", {"actor": "wang.fang", "reason": "a"}, {"extra": 1})
    await case.signal("close", {"actor": "li.na"})
    state = await case.state()
    expect(events(state).count("signal_rejected") == 7, "seven signals rejected")
    await case.signal("answer", {"actor": "li.na", "answer": "Limits reset at midnight."})
    state = await case.state()
    expect(events(state).count("signal_rejected") == 8, "the answer is not taken by signal")
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    await case.act(ActionName.ANSWER, AnswerInput(actor="li.na", answer="Limits reset."))
    await case.act(ActionName.CLOSE, CloseInput(actor="li.na"))
    await case.act(ActionName.RECORD_FEEDBACK, RecordFeedbackInput(actor="customer", score=3))
    state = await case.signal("add_note", {"actor": "wang.fang", "note": "Customer satisfied"})
    expect(state.stage is Stage.CLOSED and state.feedback is not None, "closed")


async def complaint_regulator(case: Case) -> None:
    """R9 under the NFRA preset: the regulator's clock beside the bank's, its two
    extensions (the second with a senior approver), the final reply with its JR/T
    0169-2018 classification and outcome, close."""
    state = await case.state()
    expect(ClockName.REGULATOR_REPLY in state.clocks, "the regulator's clock runs")
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    await case.act(ActionName.ASSIGN_OWNER, AssignOwnerInput(actor="wang.fang", owner="zhang.wei"))
    await case.act(
        ActionName.RECORD_INVESTIGATION,
        RecordInvestigationInput(actor="zhang.wei", findings="Fee waiver not applied."),
    )
    await case.act(
        ActionName.EXTEND_REGULATOR_CLOCK,
        ExtendRegulatorClockInput(
            actor="wang.fang", extension="complex", reason="Card scheme records requested"
        ),
    )
    state = await case.act(
        ActionName.EXTEND_REGULATOR_CLOCK,
        ExtendRegulatorClockInput(
            actor="wang.fang",
            extension="especially_complex",
            reason="Scheme arbitration",
            approved_by="chen.jie",
        ),
    )
    expect(state.regulatory is not None and len(state.regulatory.extensions) == 2, "extended")
    await case.act(
        ActionName.SEND_FINAL_REPLY,
        SendFinalReplyInput(
            actor="zhang.wei",
            reply="The fee has been refunded.",
            outcome=ComplaintOutcome.UPHELD,
            classification={"channel": "A10303", "business_type": "B3", "reason": "C08"},
        ),
    )
    await case.act(ActionName.CLOSE, CloseInput(actor="zhang.wei"))


async def complaint_regulator_fca(case: Case) -> None:
    """R9 under the FCA preset: a payment-services complaint, so the regulator's limit
    and the return's band edges are counted in business days at intake; the holding
    reply (35 business days, counted by the activity); the final reply with its
    product grouping, cause and outcome; close."""
    state = await case.state()
    expect(
        state.regulatory is not None and state.regulatory.regime == "payment_services",
        "the payment-services regime",
    )
    await case.act(ActionName.ACKNOWLEDGE, AcknowledgeInput(actor="li.na"))
    await case.act(ActionName.ASSIGN_OWNER, AssignOwnerInput(actor="wang.fang", owner="zhang.wei"))
    await case.act(
        ActionName.RECORD_INVESTIGATION,
        RecordInvestigationInput(actor="zhang.wei", findings="Duplicate debit.", upheld=True),
    )
    state = await case.act(
        ActionName.EXTEND_REGULATOR_CLOCK,
        ExtendRegulatorClockInput(
            actor="wang.fang", extension="holding_reply", reason="Waiting for the card scheme"
        ),
    )
    expect(
        state.regulatory is not None and state.regulatory.extensions == ["holding_reply"], "held"
    )
    await case.act(
        ActionName.SEND_FINAL_REPLY,
        SendFinalReplyInput(
            actor="zhang.wei",
            reply="The duplicate debit has been refunded.",
            outcome=ComplaintOutcome.UPHELD,
            classification={"product_group": "payment_services", "cause": "terms_charges"},
        ),
    )
    await case.act(ActionName.CLOSE, CloseInput(actor="zhang.wei"))


Scenario = Callable[[Case], Awaitable[None]]


@dataclass(frozen=True)
class Recording:
    """A scenario, the case it opens, and the timeline events it must have produced."""

    scenario: Scenario
    kind: CaseKind
    covers: frozenset[str]
    # A built-in regulator preset (policy/presets/) instead of default.toml.
    preset: str | None = None
    # The product complained about, when the scenario needs another than intake()'s.
    product: str | None = None


SCENARIOS: dict[str, Recording] = {
    "inquiry_answered": Recording(
        inquiry_answered,
        CaseKind.INQUIRY,
        frozenset({"answered", "closed", "feedback_received"}),
    ),
    "inquiry_transferred": Recording(
        inquiry_transferred,
        CaseKind.INQUIRY,
        frozenset(
            {
                "transferred",
                "department_plan_received",
                "department_result_received",
                "customer_updated",
                "survey_expired",
            }
        ),
    ),
    "complaint_full": Recording(
        complaint_full,
        CaseKind.COMPLAINT,
        frozenset(
            {
                "owner_assigned",
                "investigation_recorded",
                "remedy_proposed",
                "remedy_approved",
                "final_reply_sent",
                "reopened",
                "feedback_received",
            }
        ),
    ),
    "complaint_clocks": Recording(
        complaint_clocks,
        CaseKind.COMPLAINT,
        frozenset(
            {
                "clock_warning",
                "clock_breached",
                "clock_escalated",
                "clock_paused",
                "clock_resumed",
                "clock_extended",
                "escalated",
            }
        ),
    ),
    "rejected_signals": Recording(
        rejected_signals, CaseKind.INQUIRY, frozenset({"signal_rejected", "answered"})
    ),
    "complaint_regulator": Recording(
        complaint_regulator,
        CaseKind.COMPLAINT,
        frozenset({"regulator_clock_extended", "final_reply_sent", "closed"}),
        preset="cn-nfra",
    ),
    "complaint_regulator_fca": Recording(
        complaint_regulator_fca,
        CaseKind.COMPLAINT,
        frozenset({"regulator_clock_extended", "final_reply_sent", "closed"}),
        preset="uk-fca",
        product="debit_card",
    ),
}


async def register_case_attributes(client: Client) -> None:
    """The test server has no ListSearchAttributes, so ``register_search_attributes``
    cannot be used; it does take AddSearchAttributes."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                for key in CASE_SEARCH_ATTRIBUTES
            },
        )
    )


async def open_as_the_api_does(
    client: Client, input: CaseOpenInput
) -> WorkflowHandle[CaseWorkflow, CaseState]:
    """Update-with-start, as ``api.engine`` opens a case."""
    start = WithStartWorkflowOperation(
        CaseWorkflow.run,
        input,
        id=case_workflow_id(input.case_id),
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=visibility.static_summary(input),
        static_details=visibility.static_details(input),
        search_attributes=visibility.initial_search_attributes(input),
    )
    receipt = await client.execute_update_with_start_workflow(
        CaseWorkflow.confirm_intake, start_workflow_operation=start
    )
    expect(receipt.first, "the case was opened by this call")
    return await start.workflow_handle()


def history_path(out: Path, name: str, tag: str | None) -> Path:
    """Where a new recording goes: stored histories are append-only (a running case's
    past never changes), so an existing file is never overwritten; a re-recording after
    a guarded change is stored beside the old one as ``NAME.TAG.json``."""
    path = out / (f"{name}.json" if tag is None else f"{name}.{tag}.json")
    if path.exists():
        raise SystemExit(f"{path} exists; stored histories are append-only: pass --tag")
    return path


async def record(env: WorkflowEnvironment, name: str, out: Path, tag: str | None) -> Path:
    recording = SCENARIOS[name]
    log = EffectLog()
    preset = None
    if recording.preset is not None:
        preset = str(resources.files("policy").joinpath("presets", f"{recording.preset}.toml"))
    with environment(CASE_POLICY_FILE=preset):
        return await _record(env, name, out, tag, recording, log)


async def _record(
    env: WorkflowEnvironment,
    name: str,
    out: Path,
    tag: str | None,
    recording: Recording,
    log: EffectLog,
) -> Path:
    async with case_worker(env.client, TASK_QUEUE, log):
        case_id = f"REPLAY-{name.upper().replace('_', '-')}"
        opening = intake(case_id, recording.kind)
        if recording.product is not None:
            opening = opening.model_copy(update={"product": recording.product})
        handle = await open_as_the_api_does(env.client, opening)
        case = Case(env, handle)
        await recording.scenario(case)
        await case.sleep(UNTIL_FINISHED)
        # Returns only once the workflow has completed (the test server's describe
        # cannot be used: it garbles Datetime search attributes).
        async with asyncio.timeout(30):
            final = await handle.result()
        missing = recording.covers - set(events(final))
        expect(not missing, f"events missing from {name}: {sorted(missing)}")
        history = await handle.fetch_history()
    path = history_path(out, name, tag)
    path.write_text(history.to_json() + "\n", encoding="utf-8")
    # Its hash beside it, in a file of its own: the stored histories only ever gain files.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.with_name(f"{path.name}.sha256").write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    return path


async def record_all(names: Sequence[str], out: Path, tag: str | None = None) -> list[Path]:
    # The built-in policy and departments, whatever the caller's environment says.
    with environment(CASE_POLICY_FILE=None, CASE_DEPARTMENTS_FILE=None):
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
        async with env:
            await register_case_attributes(env.client)
            return [await record(env, name, out, tag) for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.record_histories", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=HISTORIES, help="folder to write to")
    parser.add_argument(
        "--tag", help="store as NAME.TAG.json beside the old histories (e.g. the patch ID)"
    )
    args = parser.parse_args(argv)
    names: list[str] = args.names or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(record_all(names, args.out, args.tag)):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB) and its .sha256")
    return 0


if __name__ == "__main__":
    sys.exit(main())
