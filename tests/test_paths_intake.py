"""The case workflow's paths on the time-skipping test server: intake with the start, and
policies for new cases only.

The harness is ``tests.helpers.paths``; side-effect activities are its stand-ins.
"""

from __future__ import annotations

from temporalio.client import (
    WithStartWorkflowOperation,
)
from temporalio.common import WorkflowIDConflictPolicy

from contracts.actions import (
    TransferInput,
)
from contracts.case import (
    CaseKind,
    Stage,
    case_workflow_id,
)
from contracts.policy import ClockName
from tests.case_harness import intake
from tests.helpers.paths import (
    AGENT,
    HOUR,
    Desk,
    PolicyFiles,
    final_reply_deadline,
    new_id,
)
from workflows.case import CaseWorkflow

# --- intake: update-with-start and signal-with-start -----------------------------------


async def test_update_with_start_sees_the_initialised_case(desk: Desk) -> None:
    input = intake(new_id(), CaseKind.COMPLAINT)
    start = WithStartWorkflowOperation(
        CaseWorkflow.run,
        input,
        id=case_workflow_id(input.case_id),
        task_queue=desk.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    receipt = await desk.env.client.execute_update_with_start_workflow(
        CaseWorkflow.confirm_intake, start_workflow_operation=start
    )
    assert receipt.first
    state = receipt.state
    assert state.case_id == input.case_id
    assert state.stage is Stage.RECEIVED
    assert state.policy_version is not None
    assert state.policy_version.startswith("plan-2026.1+")
    assert set(state.clocks) == {
        ClockName.FIRST_RESPONSE,
        ClockName.INVESTIGATION,
        ClockName.FINAL_REPLY,
    }
    assert state.clocks[ClockName.FINAL_REPLY].deadline == final_reply_deadline(state.opened_at)
    assert [e.type for e in state.timeline] == ["opened", "entered_in_complaint_register"]

    handle = await start.workflow_handle()
    desk.track(handle)
    again = await handle.execute_update(CaseWorkflow.confirm_intake)
    assert not again.first
    assert again.state.case_id == input.case_id
    assert again.state.timeline == state.timeline


async def test_a_signal_with_the_start_is_applied_after_intake(desk: Desk) -> None:
    input = intake(new_id(), CaseKind.INQUIRY)
    handle = await desk.env.client.start_workflow(
        CaseWorkflow.run,
        input,
        id=case_workflow_id(input.case_id),
        task_queue=desk.task_queue,
        start_signal="assign_owner",
        start_signal_args=[{"actor": AGENT, "owner": "zhang.wei"}],
    )
    case = desk.track(handle)
    state = await case.eventually(lambda s: s.owner == "zhang.wei")
    assert [e.type for e in state.timeline] == ["opened", "owner_assigned"]
    assert state.timeline[-1].data["via"] == "signal"


# --- a policy file changes new cases, never running ones -------------------------------


async def test_a_running_case_keeps_the_policy_it_started_with(
    desk: Desk, policy_files: PolicyFiles
) -> None:
    path = policy_files.use(version='"ops-trial"', department_plan='"PT12H"      # trial')
    trial = await desk.open(CaseKind.INQUIRY)
    trial_state = await trial.state()
    assert trial_state.policy_version is not None
    assert trial_state.policy_version.startswith("ops-trial+")
    opened = trial_state.timeline[0]
    assert opened.data["policy_version"] == trial_state.policy_version

    # The file changes under the running case, then goes away altogether.
    path.write_text(path.read_text("utf-8").replace('"PT12H"', '"PT6H"'), "utf-8")
    changed = await desk.open(CaseKind.INQUIRY)
    policy_files.default()
    plain = await desk.open(CaseKind.INQUIRY)

    plans = {}
    for name, case in (("trial", trial), ("changed", changed), ("plain", plain)):
        state = await case.do(
            "transfer", TransferInput(actor=AGENT, department="cards", reason="Fees")
        )
        clock = state.clocks[ClockName.DEPARTMENT_PLAN]
        assert clock.deadline is not None
        plans[name] = (clock.deadline - clock.started_at, state.policy_version)
    assert plans["trial"] == (12 * HOUR, trial_state.policy_version)
    assert plans["changed"][0] == 6 * HOUR
    assert plans["changed"][1] != trial_state.policy_version
    assert str(plans["changed"][1]).startswith("ops-trial+")
    assert plans["plain"][0] == 24 * HOUR
    assert str(plans["plain"][1]).startswith("plan-2026.1+")
