"""The case's rules as plain functions: ``CaseFile`` and the action table, with ``now``
passed in and no Temporal server.

Each action is checked and applied as the workflow does it (``act`` below); the
working-day deadlines a rule asks for are counted with the real calendar, as the
deadline activity counts them. What only a workflow can show (timers, updates,
replay) is tested in ``tests/test_case_workflow*.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from calendars import working_day_deadline
from contracts.actions import (
    AcknowledgeInput,
    Action,
    ActionBody,
    ActionName,
    AddNoteInput,
    AnswerInput,
    AssignOwnerInput,
    CloseInput,
    DecideRemedyInput,
    EscalateInput,
    ExtendClockInput,
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
from contracts.activities import CustomerTemplate, StaffAlertKind
from contracts.case import CaseKind, ClockStatus, RemedyKind, RemedyStatus, Stage
from contracts.policy import ClockName
from policy.loader import load_policy_document, resolve_policy
from tests.case_harness import intake
from workflows.case_file import CaseFile, RejectionError
from workflows.effects import DispatchToDepartment, NotifyCustomer, NotifyStaff, RecordRemedy
from workflows.rules import ACTIONS, ActionRule, CountedDeadline, CountingRule, rule_for
from workflows.rules.clocks import fire_due, next_clock_event

# Monday 2 March 2026, 09:00 Beijing time: an ordinary working week.
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DEPARTMENTS = ["cards", "loans", "retail"]


def open_case(kind: CaseKind = CaseKind.COMPLAINT, *, now: datetime = T0) -> CaseFile:
    """A case through intake, as the workflow's intake does it: policy resolved from
    the built-in file, receipt clocks started (working days by the real calendar)."""
    case = CaseFile.open(intake("C0000TEST", kind), now=now)
    policy = resolve_policy(load_policy_document(None), kind.value, "normal", DEPARTMENTS)
    case.policy = policy
    case.state.policy_version = policy.version
    for name in case.intake_clocks():
        deadline = case.duration_deadline(name, start=now)
        if deadline is None:
            days = policy.clocks[name].working_days
            assert days is not None
            deadline = beijing_working_days(now, days)
        case.start_clock(name, now=now, deadline=deadline)
    case.complete_intake(now=now)
    fire_due(case, now=now)
    case.take_effects()
    return case


def beijing_working_days(start: datetime, days: int) -> datetime:
    return working_day_deadline(
        start, days, timezone="Asia/Shanghai", calendar="CN", subdivision=None
    )


def act(case: CaseFile, input: Action, now: datetime) -> list[Any]:
    """Check and apply one action as the workflow does; the effects it queued."""
    name = ActionName(_name_of(input))
    rule = rule_for(name)
    rule.check(case, input, now)
    match rule:
        case ActionRule():
            rule.apply(case, input, now)
        case CountingRule():
            policy = case.resolved_policy()
            counted = {
                key: CountedDeadline(
                    count,
                    working_day_deadline(
                        count.start,
                        count.days,
                        timezone=policy.timezone,
                        calendar=policy.calendar,
                        subdivision=policy.subdivision,
                    ),
                )
                for key, count in rule.counts(case, input, now).items()
            }
            rule.check(case, input, now)
            rule.apply(case, input, now, counted)
    case.refresh_summary()
    return case.take_effects()


def _name_of(input: Action) -> str:
    [name] = [n for n, rule in ACTIONS.items() if rule.input is type(input)]
    return name


def refused(case: CaseFile, input: Action, now: datetime, kind: str = "ActionRejected") -> str:
    """The action is refused with ``kind``, and the case is left exactly as it was."""
    before = case.state.model_copy(deep=True)
    with pytest.raises(RejectionError) as rejection:
        act(case, input, now)
    assert rejection.value.kind == kind, rejection.value.reason
    assert case.state == before
    return rejection.value.reason


def stage(case: CaseFile) -> Stage:
    """The case's stage, read afresh (an action in between moves it)."""
    return case.state.stage


def events(case: CaseFile) -> list[str]:
    return [e.type for e in case.state.timeline]


def templates(effects: list[Any]) -> list[CustomerTemplate]:
    return [e.template for e in effects if isinstance(e, NotifyCustomer)]


# --- the table itself --------------------------------------------------------------------


def test_every_action_has_one_rule_under_its_own_name() -> None:
    assert list(ACTIONS) == [name.value for name in ActionName]
    for name, rule in ACTIONS.items():
        assert rule.name.value == name
        stem = "".join(part.title() for part in name.split("_"))
        assert rule.input.__name__ == f"{stem}Input"
        assert rule.body.__name__ == f"{stem}Body"
        assert issubclass(rule.input, rule.body)
        assert issubclass(rule.body, ActionBody)


def test_an_input_is_its_body_plus_the_actor_and_the_path() -> None:
    extra = {
        name: set(rule.input.model_fields) - set(rule.body.model_fields)
        for name, rule in ACTIONS.items()
    }
    path_or_scope = {"remedy_id", "clock", "department"}
    assert all(fields - path_or_scope == {"actor"} for fields in extra.values()), extra


# --- intake and first response (R3.1-R3.3) -----------------------------------------------


def test_intake_records_the_case_and_promises_the_final_reply() -> None:
    case = CaseFile.open(intake("C0000TEST", CaseKind.COMPLAINT), now=T0)
    case.policy = resolve_policy(load_policy_document(None), "complaint", "normal", DEPARTMENTS)
    due = beijing_working_days(T0, 7)
    case.start_clock(ClockName.FINAL_REPLY, now=T0, deadline=due)
    case.complete_intake(now=T0)
    assert events(case) == ["opened", "entered_in_complaint_register"]
    [received] = case.take_effects()
    assert isinstance(received, NotifyCustomer)
    assert received.template is CustomerTemplate.RECEIVED
    # Monday 2 March + 7 working days = Wednesday 11 March; due at its end, Beijing time.
    assert received.params["deadline"] == "2026-03-11T16:00+00:00"


def test_received_later_than_now_is_taken_as_now() -> None:
    case = CaseFile.open(intake("C0000TEST", received_at=T0 + HOUR), now=T0)
    assert case.state.opened_at == T0


def test_acknowledge_meets_the_first_response_clock_once() -> None:
    case = open_case(CaseKind.INQUIRY)
    effects = act(case, AcknowledgeInput(actor="li.na"), T0 + 2 * MINUTE)
    assert case.state.stage is Stage.ACKNOWLEDGED
    clock = case.state.clocks[ClockName.FIRST_RESPONSE]
    assert clock.status is ClockStatus.MET
    assert clock.met_at == T0 + 2 * MINUTE
    assert templates(effects) == [CustomerTemplate.ACKNOWLEDGED]
    reason = refused(case, AcknowledgeInput(actor="li.na"), T0 + 3 * MINUTE)
    assert reason == "cannot acknowledge while the case is acknowledged (needs: received)"


def test_an_action_during_intake_is_refused() -> None:
    case = CaseFile.open(intake("C0000TEST"), now=T0)
    assert "intake is still in progress" in refused(case, AcknowledgeInput(actor="li.na"), T0)


def test_a_simple_question_is_answered_and_resolves() -> None:
    case = open_case(CaseKind.INQUIRY)
    effects = act(case, AnswerInput(actor="li.na", answer="Branch opens at 9."), T0 + MINUTE)
    assert case.state.stage is Stage.RESOLVED
    assert templates(effects) == [CustomerTemplate.ANSWERED]


def test_a_complaint_is_not_answered_simply() -> None:
    case = open_case()
    reason = refused(case, AnswerInput(actor="li.na", answer="ok"), T0)
    assert reason == "a complaint is answered by its final reply, not a simple answer"


# --- transfer and the department (R3.4-R3.7) -----------------------------------------------


def test_transfer_starts_the_department_clocks_and_dispatches() -> None:
    case = open_case(CaseKind.INQUIRY)
    at = T0 + 3 * MINUTE
    effects = act(case, TransferInput(actor="li.na", department="cards", reason="fee"), at)
    assert case.state.stage is Stage.AWAITING_DEPARTMENT_PLAN
    assert case.state.clocks[ClockName.DEPARTMENT_PLAN].deadline == at + 24 * HOUR
    assert case.state.clocks[ClockName.DEPARTMENT_RESULT].deadline == at + 48 * HOUR
    assert case.state.clocks[ClockName.FIRST_RESPONSE].status is ClockStatus.MET
    [dispatch] = [e for e in effects if isinstance(e, DispatchToDepartment)]
    assert (dispatch.department, dispatch.requested_by) == ("cards", "li.na")
    assert templates(effects) == [CustomerTemplate.TRANSFERRED]


def test_transfer_to_an_unknown_department_names_the_known_ones() -> None:
    case = open_case(CaseKind.INQUIRY)
    reason = refused(
        case, TransferInput(actor="li.na", department="mars", reason="x"), T0, "InvalidAction"
    )
    assert reason == "department: unknown department 'mars' (known: cards, loans, retail)"


def test_another_department_cannot_answer_for_the_one_holding_the_case() -> None:
    case = open_case(CaseKind.INQUIRY)
    act(case, TransferInput(actor="li.na", department="cards", reason="fee"), T0)
    plan = RecordDepartmentPlanInput(actor="loans-desk", plan="x", department="loans")
    reason = refused(case, plan, T0 + HOUR, "WrongDepartment")
    assert reason == "this case is with cards, not department loans"


def test_the_department_result_then_the_customer_update_resolve_an_inquiry() -> None:
    case = open_case(CaseKind.INQUIRY)
    act(case, TransferInput(actor="li.na", department="cards", reason="fee"), T0)
    act(case, RecordDepartmentPlanInput(actor="cards-desk", plan="check"), T0 + HOUR)
    assert stage(case) is Stage.AWAITING_DEPARTMENT_RESULT
    act(case, RecordDepartmentResultInput(actor="cards-desk", result="refunded"), T0 + 5 * HOUR)
    assert stage(case) is Stage.AWAITING_CUSTOMER_UPDATE
    update = case.state.clocks[ClockName.CUSTOMER_UPDATE]
    assert update.deadline == T0 + 9 * HOUR
    act(case, UpdateCustomerInput(actor="li.na", message="Refunded."), T0 + 6 * HOUR)
    assert case.state.stage is Stage.RESOLVED
    assert case.state.clocks[ClockName.CUSTOMER_UPDATE].status is ClockStatus.MET


def test_the_department_stages_are_named_in_a_fixed_order() -> None:
    """Rejection texts are recorded by rejected signals: they must not depend on the
    hash seed (a set's order), or a replay would build a different timeline."""
    case = open_case(CaseKind.INQUIRY)
    reason = refused(case, RecordDepartmentResultInput(actor="cards-desk", result="x"), T0)
    assert reason == (
        "cannot record the department's result while the case is received"
        " (needs: awaiting_department_plan, awaiting_department_result)"
    )


# --- complaints (R4.2-R4.4) ----------------------------------------------------------------


@pytest.fixture
def investigated() -> CaseFile:
    case = open_case()
    act(case, AcknowledgeInput(actor="li.na"), T0 + MINUTE)
    act(case, AssignOwnerInput(actor="li.na", owner="zhang.wei"), T0 + 2 * MINUTE)
    assert stage(case) is Stage.INVESTIGATING
    act(case, RecordInvestigationInput(actor="zhang.wei", findings="charged twice"), T0 + DAY)
    assert stage(case) is Stage.AWAITING_FINAL_REPLY
    return case


def test_a_remedy_above_the_threshold_waits_for_a_different_supervisor(
    investigated: CaseFile,
) -> None:
    case = investigated
    propose = ProposeRemedyInput(
        actor="zhang.wei", kind=RemedyKind.COMPENSATION, description="goodwill", amount=800
    )
    assert act(case, propose, T0 + DAY) == []
    [remedy] = case.state.remedies
    assert remedy.status is RemedyStatus.PENDING_APPROVAL
    reply = SendFinalReplyInput(actor="zhang.wei", reply="done")
    assert refused(case, reply, T0 + DAY) == "remedies await a supervisor's approval: R1"
    own = DecideRemedyInput(actor="zhang.wei", remedy_id="R1")
    assert "maker-checker" in refused(case, own, T0 + DAY, "InvalidAction")
    effects = act(case, DecideRemedyInput(actor="wang.fang", remedy_id="R1"), T0 + DAY)
    [recorded] = effects
    assert isinstance(recorded, RecordRemedy)
    assert recorded.remedy.amount == Decimal("800")
    effects = act(case, reply, T0 + 2 * DAY)
    [final] = [e for e in effects if isinstance(e, NotifyCustomer)]
    assert final.params["remedies"] == "goodwill (800 CNY)"
    assert case.state.stage is Stage.RESOLVED
    assert case.state.clocks[ClockName.FINAL_REPLY].status is ClockStatus.MET


def test_a_small_remedy_is_approved_by_its_proposer_at_once(investigated: CaseFile) -> None:
    propose = ProposeRemedyInput(
        actor="zhang.wei", kind=RemedyKind.FEE_REFUND, description="fee", amount=120
    )
    [recorded] = act(investigated, propose, T0 + DAY)
    assert isinstance(recorded, RecordRemedy)
    assert recorded.remedy.status is RemedyStatus.APPROVED


def test_a_refund_needs_an_amount_in_the_policys_currency(investigated: CaseFile) -> None:
    no_amount = ProposeRemedyInput(actor="z", kind=RemedyKind.FEE_REFUND, description="fee")
    assert refused(investigated, no_amount, T0, "InvalidAction") == (
        "amount: a fee_refund needs an amount"
    )
    dollars = ProposeRemedyInput(
        actor="z", kind=RemedyKind.APOLOGY, description="sorry", currency="USD"
    )
    assert refused(investigated, dollars, T0, "InvalidAction") == (
        "currency: remedies are paid in CNY"
    )


# --- clocks firing on their own (R2.1) -------------------------------------------------------


def test_the_investigation_clock_warns_breaches_and_climbs_the_ladder() -> None:
    case = open_case()
    act(case, AcknowledgeInput(actor="li.na"), T0 + MINUTE)
    act(case, AssignOwnerInput(actor="li.na", owner="zhang.wei"), T0 + MINUTE)
    case.take_effects()
    # 48 h investigation: warning at 80 % (38.4 h), breach at 48 h, then every 2 h.
    fire_due(case, now=T0 + 38 * HOUR)
    assert "clock_warning" not in events(case)
    fire_due(case, now=T0 + 39 * HOUR)
    warnings = [e for e in case.state.timeline if e.type == "clock_warning"]
    assert [e.data["clock"] for e in warnings] == ["investigation"]
    fire_due(case, now=T0 + 52 * HOUR)
    clock = case.state.clocks[ClockName.INVESTIGATION]
    assert clock.status is ClockStatus.BREACHED
    assert clock.breached_at == T0 + 48 * HOUR
    assert clock.escalation_level == 3  # breach, +2 h, +4 h
    alerts = [e for e in case.take_effects() if isinstance(e, NotifyStaff)]
    investigation = [a for a in alerts if a.clock is ClockName.INVESTIGATION]
    assert [(a.kind, a.recipient_role) for a in investigation] == [
        (StaffAlertKind.WARNING, "complaint_owner"),
        (StaffAlertKind.BREACH, "complaint_owner"),
        (StaffAlertKind.ESCALATION, "team_lead"),
        (StaffAlertKind.ESCALATION, "supervisor"),
        (StaffAlertKind.ESCALATION, "branch_manager"),
    ]
    assert case.state.breached
    assert case.state.escalation_level == 3


def test_a_final_reply_breach_sends_the_customer_a_holding_message() -> None:
    case = open_case()
    due = case.state.clocks[ClockName.FINAL_REPLY].deadline
    assert due is not None
    fire_due(case, now=due)
    assert CustomerTemplate.HOLDING in templates(case.take_effects())


def test_pause_keeps_the_time_left_and_resume_restores_it() -> None:
    case = open_case()
    act(case, AcknowledgeInput(actor="li.na"), T0 + MINUTE)
    pause = PauseClockInput(actor="wang.fang", clock=ClockName.INVESTIGATION, reason="docs")
    act(case, pause, T0 + 10 * HOUR)
    clock = case.state.clocks[ClockName.INVESTIGATION]
    assert clock.status is ClockStatus.PAUSED
    assert clock.remaining_when_paused == 38 * HOUR
    assert next_clock_event(case) is not None  # the other clocks still run
    act(case, ResumeClockInput(actor="wang.fang", clock=ClockName.INVESTIGATION), T0 + 3 * DAY)
    assert clock.deadline == T0 + 3 * DAY + 38 * HOUR
    survey = PauseClockInput(actor="wang.fang", clock=ClockName.SURVEY, reason="x")
    assert "customer's window" in refused(case, survey, T0)


def test_extend_by_working_days_counts_from_the_last_day_allowed() -> None:
    case = open_case()
    due = case.state.clocks[ClockName.FINAL_REPLY].deadline
    extend = ExtendClockInput(
        actor="wang.fang", clock=ClockName.FINAL_REPLY, working_days=3, reason="regulator"
    )
    act(case, extend, T0 + DAY)
    clock = case.state.clocks[ClockName.FINAL_REPLY]
    # Due at the end of Wednesday 11 March; three more working days: Monday 16 March.
    assert due == datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
    assert clock.deadline == datetime(2026, 3, 16, 16, 0, tzinfo=UTC)
    assert clock.extensions == 1
    assert case.state.timeline[-1].type == "clock_extended"


def test_extend_by_a_duration_or_working_days_but_not_both() -> None:
    case = open_case()
    both = ExtendClockInput(
        actor="w", clock=ClockName.INVESTIGATION, by=HOUR, working_days=1, reason="x"
    )
    assert refused(case, both, T0, "InvalidAction").startswith("by: give either")
    act(case, ExtendClockInput(actor="w", clock=ClockName.INVESTIGATION, by=HOUR, reason="x"), T0)
    assert case.state.clocks[ClockName.INVESTIGATION].deadline == T0 + 49 * HOUR


def test_manual_escalation_stops_at_the_top_of_the_ladder() -> None:
    case = open_case()
    for level in (1, 2, 3):
        [alert] = act(case, EscalateInput(actor="wang.fang", reason="VIP"), T0)
        assert isinstance(alert, NotifyStaff)
        assert alert.level == level
    assert "top of the escalation ladder" in refused(case, EscalateInput(actor="w", reason="x"), T0)


# --- closing, the survey and reopening (R6.1) ------------------------------------------------


def closed_inquiry() -> CaseFile:
    case = open_case(CaseKind.INQUIRY)
    act(case, AnswerInput(actor="li.na", answer="done"), T0 + MINUTE)
    act(case, CloseInput(actor="li.na"), T0 + 2 * MINUTE)
    return case


def test_close_opens_the_survey_answered_once() -> None:
    case = closed_inquiry()
    assert case.state.reopen_until == T0 + 2 * MINUTE + 14 * DAY
    survey = case.state.clocks[ClockName.SURVEY]
    assert survey.deadline == T0 + 2 * MINUTE + 7 * DAY
    act(case, RecordFeedbackInput(actor="customer", score=4), T0 + DAY)
    assert case.state.feedback is not None
    assert case.state.feedback.score == 4
    assert "answered once" in refused(case, RecordFeedbackInput(actor="c", score=1), T0 + DAY)


def test_the_case_is_finished_after_the_reopen_window_and_the_survey() -> None:
    case = closed_inquiry()
    assert not case.finished(now=T0 + 13 * DAY)
    fire_due(case, now=T0 + 15 * DAY)
    assert case.state.clocks[ClockName.SURVEY].status is ClockStatus.EXPIRED
    assert case.finished(now=T0 + 15 * DAY)


def test_reopen_restarts_the_promises_within_the_window_only() -> None:
    case = open_case()
    act(case, AcknowledgeInput(actor="li.na"), T0 + MINUTE)
    act(case, AssignOwnerInput(actor="li.na", owner="zhang.wei"), T0 + MINUTE)
    act(case, RecordInvestigationInput(actor="zhang.wei", findings="x"), T0 + HOUR)
    act(case, SendFinalReplyInput(actor="zhang.wei", reply="done"), T0 + 2 * HOUR)
    act(case, CloseInput(actor="zhang.wei"), T0 + 3 * HOUR)
    reopened_at = T0 + 2 * DAY
    effects = act(case, ReopenInput(actor="li.na", reason="not fixed"), reopened_at)
    assert templates(effects) == [CustomerTemplate.REOPENED]
    assert case.state.stage is Stage.RECEIVED
    assert ClockName.SURVEY not in case.state.clocks
    clocks = case.state.clocks
    assert clocks[ClockName.FIRST_RESPONSE].deadline == reopened_at + 5 * MINUTE
    assert clocks[ClockName.INVESTIGATION].deadline == reopened_at + 48 * HOUR
    assert clocks[ClockName.FINAL_REPLY].deadline == beijing_working_days(reopened_at, 7)
    act(case, AcknowledgeInput(actor="li.na"), reopened_at + MINUTE)
    act(case, RecordInvestigationInput(actor="zhang.wei", findings="y"), reopened_at + HOUR)
    act(case, SendFinalReplyInput(actor="zhang.wei", reply="fixed"), reopened_at + HOUR)
    act(case, CloseInput(actor="zhang.wei"), reopened_at + HOUR)
    late = reopened_at + HOUR + 14 * DAY
    assert "reopen window ended" in refused(case, ReopenInput(actor="li.na", reason="x"), late)


def test_a_note_fits_any_stage() -> None:
    case = closed_inquiry()
    act(case, AddNoteInput(actor="wang.fang", note="called back"), T0 + DAY)
    assert events(case)[-1] == "note_added"
