"""Stored histories of finished cases replay against today's workflow code (DESIGN
rule 6): a change that would break running cases fails here, not in production.

The histories are recorded by ``python -m tests.record_histories``; every ``*.json`` in
``tests/histories`` is replayed, old versions kept there included.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from activities.models import CustomerTemplate
from tests.record_histories import HISTORIES, SCENARIOS
from workflows.case import CaseWorkflow
from workflows.case_file import Effect, NotifyCustomer
from workflows.messages import CaseOpenInput, CaseState

STORED = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text(encoding="utf-8"))


def final_state(history: WorkflowHistory) -> CaseState:
    """The case as the workflow returned it, from the completion event."""
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    [payload] = last.workflow_execution_completed_event_attributes.result.payloads
    state = pydantic_data_converter.payload_converter.from_payload(payload, CaseState)
    assert isinstance(state, CaseState)
    return state


def test_every_scenario_has_a_stored_history() -> None:
    assert {path.stem for path in STORED} >= set(SCENARIOS)


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
async def test_stored_history_replays_without_nondeterminism(path: Path) -> None:
    history = load(path)
    replayer = Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_stored_history_is_a_finished_case_covering_its_scenario(name: str) -> None:
    """A history that stopped early, or missed the steps its scenario is about, would
    replay cleanly and prove little."""
    history = load(HISTORIES / f"{name}.json")
    types = {event.event_type for event in history.events}
    # Opened as the API opens a case: search attributes set and kept up to date.
    assert EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES in types
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED in types
    state = final_state(history)
    assert {event.type for event in state.timeline} >= SCENARIOS[name].covers


@workflow.defn(name="CaseWorkflow")
class CaseWorkflowWithoutReceipt(CaseWorkflow):
    """The case workflow with one step dropped: the customer is no longer told their
    case was received. Registered under the same name, as a careless edit would be."""

    @workflow.run
    async def run(self, input: CaseOpenInput) -> CaseState:
        return await super().run(input)

    async def _carry_out(self, effect: Effect) -> None:
        if isinstance(effect, NotifyCustomer) and effect.template is CustomerTemplate.RECEIVED:
            return
        await super()._carry_out(effect)


@pytest.mark.parametrize("name", ["inquiry_answered", "complaint_full"])
async def test_a_changed_workflow_fails_replay(name: str) -> None:
    """The check above can fail: a workflow that skips a step it took when the history
    was recorded is refused as non-deterministic."""
    replayer = Replayer(
        workflows=[CaseWorkflowWithoutReceipt],
        data_converter=pydantic_data_converter,
        # The sandbox would re-import this test module (and pytest) for the subclass.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(NondeterminismError, match="Nondeterminism error"):
        await replayer.replay_workflow(load(HISTORIES / f"{name}.json"))


async def test_the_unchanged_workflow_replays_without_the_sandbox_too() -> None:
    """The control for the test above: the same runner with the real workflow passes,
    so what fails there is the change, not the runner."""
    replayer = Replayer(
        workflows=[CaseWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(load(HISTORIES / "inquiry_answered.json"))
    assert result.replay_failure is None
