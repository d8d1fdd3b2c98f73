"""Closing, reopening and the satisfaction survey (R6.1)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from contracts.actions import (
    ActionName,
    CloseBody,
    CloseInput,
    RecordFeedbackBody,
    RecordFeedbackInput,
    ReopenBody,
    ReopenInput,
)
from contracts.activities import CustomerTemplate
from contracts.case import ClockStatus, Feedback, Stage
from contracts.policy import ClockName
from workflows.case_file import CaseFile, reject
from workflows.effects import RecordFeedback
from workflows.rules.table import ActionRule, CountedDeadline, CountingRule, WorkingDayCount


def check_close(case: CaseFile, input: CloseInput, now: datetime) -> None:
    case.require_stage("close", Stage.RESOLVED)


def apply_close(case: CaseFile, input: CloseInput, now: datetime) -> None:
    policy = case.resolved_policy()
    case.state.stage = Stage.CLOSED
    case.state.closed_at = now
    case.state.reopen_until = now + policy.reopen_window
    deadline = case.duration_deadline(ClockName.SURVEY, start=now)
    assert deadline is not None, "the survey window is a duration"
    case.start_clock(ClockName.SURVEY, now=now, deadline=deadline)
    seq = case.record("closed", at=now, actor=input.actor, detail=input.reason)
    case.notify_customer(
        CustomerTemplate.CLOSED_SURVEY,
        seq,
        reopen_until=case.state.reopen_until.isoformat(timespec="minutes"),
    )


CLOSE = ActionRule(ActionName.CLOSE, CloseBody, CloseInput, check_close, apply_close)


def check_reopen(case: CaseFile, input: ReopenInput, now: datetime) -> None:
    case.require_stage("reopen", Stage.CLOSED)
    if case.state.reopen_until is not None and now >= case.state.reopen_until:
        until = case.state.reopen_until.isoformat(timespec="minutes")
        raise reject(f"the reopen window ended at {until}; open a new case instead")


def reopen_counts(case: CaseFile, input: ReopenInput, now: datetime) -> dict[str, WorkingDayCount]:
    """The working-day deadlines a reopened case restarts, counted before anything
    changes, so no query or update ever sees a reopened case without its clocks."""
    policy = case.resolved_policy()
    return {
        name.value: WorkingDayCount(start=now, days=days)
        for name in case.intake_clocks()
        if (days := policy.clocks[name].working_days) is not None
    }


def apply_reopen(
    case: CaseFile, input: ReopenInput, now: datetime, counted: Mapping[str, CountedDeadline]
) -> None:
    """Reopening starts the case's promises again from now; the old ones stay on
    the timeline."""
    case.state.stage = Stage.RECEIVED
    case.manual_escalation = 0
    case.state.closed_at = None
    case.state.reopen_until = None
    case.state.department = None
    case.investigation_done = False
    case.state.clocks.pop(ClockName.SURVEY, None)
    seq = case.record("reopened", at=now, actor=input.actor, detail=input.reason)
    case.notify_customer(CustomerTemplate.REOPENED, seq)
    for name in case.intake_clocks():
        deadline = case.duration_deadline(name, start=now)
        if deadline is not None:
            case.start_clock(name, now=now, deadline=deadline)
    for name_value, result in counted.items():
        case.start_clock(ClockName(name_value), now=now, deadline=result.deadline)


REOPEN = CountingRule(
    ActionName.REOPEN, ReopenBody, ReopenInput, check_reopen, reopen_counts, apply_reopen
)


def check_record_feedback(case: CaseFile, input: RecordFeedbackInput, now: datetime) -> None:
    """The satisfaction survey (R6.1) follows each close and is answered once, so
    each case round counts once in the satisfaction figures."""
    survey = case.state.clocks.get(ClockName.SURVEY)
    if survey is None or survey.status is not ClockStatus.RUNNING:
        raise reject(
            "the satisfaction survey opens when the case closes and is answered once;"
            " it is not open now"
        )


def apply_record_feedback(case: CaseFile, input: RecordFeedbackInput, now: datetime) -> None:
    case.meet(ClockName.SURVEY, now=now)
    feedback = Feedback(score=input.score, comment=input.comment, at=now)
    case.state.feedback = feedback
    seq = case.record(
        "feedback_received", at=now, actor=input.actor, detail=input.comment, score=input.score
    )
    case.effects.append(RecordFeedback(f"{case.state.case_id}-F{seq}", feedback))


RECORD_FEEDBACK = ActionRule(
    ActionName.RECORD_FEEDBACK,
    RecordFeedbackBody,
    RecordFeedbackInput,
    check_record_feedback,
    apply_record_feedback,
)
