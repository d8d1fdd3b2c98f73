"""The rules of a case: which action fits which stage, and what each one changes.

``CaseFile`` is plain state plus decisions. It never calls Temporal: the case workflow
hands it ``workflow.now()`` and carries out the ``Effect`` objects it returns with
activities, so the same history always produces the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from activities.models import (
    CaseSnapshot,
    CustomerTemplate,
    StaffAlertKind,
)
from policy.model import ClockName, ResolvedPolicy
from workflows import clocks
from workflows.clocks import ClockEvent, ClockEventKind
from workflows.messages import (
    AcknowledgeInput,
    Action,
    AnswerInput,
    ApproveRemedyInput,
    AssignOwnerInput,
    CaseKind,
    CaseOpenInput,
    CaseState,
    ClockStatus,
    CloseInput,
    CustomerUpdateInput,
    DepartmentPlanInput,
    DepartmentResultInput,
    EscalateInput,
    ExtendClockInput,
    Feedback,
    FeedbackInput,
    FinalReplyInput,
    IncidentHoldingInput,
    IncidentLink,
    InvestigationInput,
    JoinIncidentInput,
    NoteInput,
    PauseClockInput,
    ProposeRemedyInput,
    Remedy,
    RemedyStatus,
    ReopenInput,
    ResumeClockInput,
    Stage,
    TimelineEvent,
    TransferInput,
)

OPEN_STAGES = frozenset(Stage) - {Stage.RESOLVED, Stage.CLOSED}
DEPARTMENT_STAGES = frozenset({Stage.AWAITING_DEPARTMENT_PLAN, Stage.AWAITING_DEPARTMENT_RESULT})
SYSTEM = "system"


class RejectionError(Exception):
    """An action that does not fit: ``kind`` is ``ActionRejected`` (wrong stage or state),
    ``InvalidAction`` (a value wrong for this case) or ``WrongDepartment`` (a department
    acting on a case another one holds)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _reject(reason: str) -> RejectionError:
    return RejectionError("ActionRejected", reason)


def _invalid(reason: str) -> RejectionError:
    return RejectionError("InvalidAction", reason)


def _a(kind: CaseKind) -> str:
    """'an inquiry', 'a complaint': rejection reasons are read by people."""
    return f"{'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value}"


@dataclass(frozen=True)
class NotifyCustomer:
    template: CustomerTemplate
    params: dict[str, str]
    seq: int


@dataclass(frozen=True)
class NotifyStaff:
    kind: StaffAlertKind
    clock: ClockName | None
    recipient_role: str
    recipient_user: str | None
    department: str | None
    level: int
    deadline: datetime | None
    message: str
    seq: int


@dataclass(frozen=True)
class DispatchToDepartment:
    department: str
    reason: str
    requested_by: str
    seq: int


@dataclass(frozen=True)
class RecordRemedy:
    remedy: Remedy


@dataclass(frozen=True)
class RecordFeedback:
    feedback_id: str
    feedback: Feedback


Effect = NotifyCustomer | NotifyStaff | DispatchToDepartment | RecordRemedy | RecordFeedback


@dataclass
class CaseFile:
    """A case's state and the rules that move it."""

    intake: CaseOpenInput
    state: CaseState
    policy: ResolvedPolicy | None = None
    investigation_done: bool = False
    transferred_by: str | None = None
    # The level a supervisor escalated to by hand; clocks' own levels are on the clocks.
    _manual_escalation: int = 0
    effects: list[Effect] = field(default_factory=list)

    @classmethod
    def open(cls, intake: CaseOpenInput, *, now: datetime) -> CaseFile:
        received = min(intake.received_at or now, now)
        state = CaseState(
            case_id=intake.case_id,
            kind=intake.kind,
            channel=intake.channel,
            category=intake.category,
            product=intake.product,
            priority=intake.priority,
            customer_id=intake.customer.id,
            stage=Stage.RECEIVED,
            opened_at=received,
            opened_by=intake.opened_by,
        )
        return cls(intake=intake, state=state)

    # --- bookkeeping ---------------------------------------------------------------

    def record(
        self, type_: str, *, at: datetime, actor: str, detail: str | None = None, **data: Any
    ) -> int:
        """Add a timeline event (R2.2: what, when, who); returns its sequence number."""
        seq = len(self.state.timeline) + 1
        self.state.timeline.append(
            TimelineEvent(seq=seq, type=type_, at=at, actor=actor, detail=detail, data=data)
        )
        return seq

    def take_effects(self) -> list[Effect]:
        taken, self.effects = self.effects, []
        return taken

    @property
    def kind(self) -> CaseKind:
        return self.state.kind

    @property
    def is_open(self) -> bool:
        return self.state.stage in OPEN_STAGES

    def _policy(self) -> ResolvedPolicy:
        if self.policy is None:
            raise _reject("the case's intake is still in progress; try again in a moment")
        return self.policy

    def _customer(self, template: CustomerTemplate, seq: int, **params: str) -> None:
        params.setdefault("case_id", self.state.case_id)
        if self.policy is not None:
            params.setdefault("timezone", self.policy.timezone)
        self.effects.append(NotifyCustomer(template, params, seq))

    def start_clock(self, name: ClockName, *, now: datetime, deadline: datetime) -> None:
        self.state.clocks[name] = clocks.start_clock(
            name, now=now, deadline=deadline, share=self._policy().warning_share
        )

    def _meet(self, name: ClockName, *, now: datetime) -> None:
        clock = self.state.clocks.get(name)
        if clock is not None and clocks.meet(clock, now=now):
            self.record("clock_met", at=now, actor=SYSTEM, clock=name.value)

    def _deadline_text(self, name: ClockName) -> str:
        clock = self.state.clocks.get(name)
        if clock is None or clock.deadline is None:
            return "-"
        return clock.deadline.isoformat(timespec="minutes")

    def refresh_summary(self) -> None:
        """Derived fields: whether anything is overdue, the highest escalation."""
        overdue = [c for c in self.state.clocks.values() if c.status is ClockStatus.BREACHED]
        self.state.breached = any(c.met_at is None for c in overdue)
        levels = [c.escalation_level for c in overdue if c.met_at is None]
        self.state.escalation_level = max([*levels, self._manual_escalation])

    def next_deadline(self) -> datetime | None:
        deadlines = [
            c.deadline
            for c in self.state.clocks.values()
            if c.status is ClockStatus.RUNNING and c.deadline is not None
        ]
        return min(deadlines, default=None)

    def snapshot(self) -> CaseSnapshot:
        s = self.state
        return CaseSnapshot(
            case_id=s.case_id,
            kind=s.kind,
            channel=s.channel,
            category=s.category,
            product=s.product,
            priority=s.priority,
            customer_id=s.customer_id,
            stage=s.stage,
            owner=s.owner,
            department=s.department,
            opened_at=s.opened_at,
            opened_by=s.opened_by,
            closed_at=s.closed_at,
            breached=s.breached,
            escalation_level=s.escalation_level,
            next_deadline=self.next_deadline(),
            policy_version=s.policy_version,
            clocks=dict(s.clocks),
        )

    # --- intake --------------------------------------------------------------------

    def duration_deadline(self, name: ClockName, *, start: datetime) -> datetime | None:
        """The deadline of a duration clock; None for a working-day clock."""
        rule = self._policy().clocks[name]
        return start + rule.duration if rule.duration is not None else None

    def intake_clocks(self) -> list[ClockName]:
        """Clocks that start at receipt (R3.2; R4.3 and R4.4 for complaints)."""
        names = [ClockName.FIRST_RESPONSE]
        if self.kind is CaseKind.COMPLAINT:
            names += [ClockName.INVESTIGATION, ClockName.FINAL_REPLY]
        return names

    def complete_intake(self, *, now: datetime) -> None:
        seq = self.record(
            "opened",
            at=now,
            actor=self.intake.opened_by,
            detail=f"{self.kind.value} via {self.state.channel}",
            category=self.state.category,
            policy_version=self.state.policy_version,
        )
        due = ClockName.FINAL_REPLY if self.kind is CaseKind.COMPLAINT else ClockName.FIRST_RESPONSE
        self._customer(CustomerTemplate.RECEIVED, seq, deadline=self._deadline_text(due))
        if self.kind is CaseKind.COMPLAINT:
            self.record("entered_in_complaint_register", at=now, actor=SYSTEM)

    # --- checks: raise Rejection, change nothing -----------------------------------

    def check(self, action: str, input: Action, *, now: datetime) -> None:
        checker: Callable[[Any, datetime], None] = getattr(self, f"_check_{action}")
        checker(input, now)

    def apply(self, action: str, input: Action, *, now: datetime) -> None:
        applier: Callable[[Any, datetime], None] = getattr(self, f"_apply_{action}")
        applier(input, now)
        self.refresh_summary()

    def _require_open(self) -> None:
        if not self.is_open:
            raise _reject(f"the case is {self.state.stage.value}; this action needs an open case")

    def _require_stage(self, action: str, *stages: Stage) -> None:
        if self.state.stage not in stages:
            wanted = ", ".join(s.value for s in stages)
            raise _reject(
                f"cannot {action} while the case is {self.state.stage.value} (needs: {wanted})"
            )

    def _require_kind(self, action: str, kind: CaseKind) -> None:
        if self.kind is not kind:
            raise _reject(f"cannot {action} on {_a(self.kind)}; only on {_a(kind)}")

    def _check_acknowledge(self, input: AcknowledgeInput, now: datetime) -> None:
        self._policy()
        self._require_stage("acknowledge", Stage.RECEIVED)

    def _check_answer(self, input: AnswerInput, now: datetime) -> None:
        self._policy()
        if self.kind is CaseKind.COMPLAINT:
            raise _reject("a complaint is answered by its final reply, not a simple answer")
        self._require_stage("answer", Stage.RECEIVED, Stage.ACKNOWLEDGED)

    def _check_transfer(self, input: TransferInput, now: datetime) -> None:
        policy = self._policy()
        if self.state.stage in DEPARTMENT_STAGES:
            raise _reject(f"the case is already with department {self.state.department}")
        if self.kind is CaseKind.COMPLAINT:
            self._require_stage("transfer", Stage.INVESTIGATING, Stage.AWAITING_FINAL_REPLY)
        else:
            self._require_stage("transfer", Stage.RECEIVED, Stage.ACKNOWLEDGED)
        if input.department not in policy.departments:
            known = ", ".join(policy.departments)
            raise _invalid(f"department: unknown department {input.department!r} (known: {known})")

    def _require_department(self, acting: str | None) -> None:
        if acting is not None and acting != self.state.department:
            holder = self.state.department or "no department"
            raise RejectionError(
                "WrongDepartment", f"this case is with {holder}, not department {acting}"
            )

    def _check_record_department_plan(self, input: DepartmentPlanInput, now: datetime) -> None:
        self._require_department(input.department)
        self._require_stage("record the department's plan", Stage.AWAITING_DEPARTMENT_PLAN)

    def _check_record_department_result(self, input: DepartmentResultInput, now: datetime) -> None:
        self._require_department(input.department)
        self._require_stage("record the department's result", *DEPARTMENT_STAGES)

    def _check_update_customer(self, input: CustomerUpdateInput, now: datetime) -> None:
        self._require_open()
        if self.state.stage is Stage.RECEIVED:
            raise _reject("acknowledge the case before sending the customer an update")

    def _check_assign_owner(self, input: AssignOwnerInput, now: datetime) -> None:
        self._require_open()
        if input.owner == self.state.owner:
            raise _reject(f"{input.owner} already owns the case")

    def _check_record_investigation(self, input: InvestigationInput, now: datetime) -> None:
        self._require_kind("record an investigation", CaseKind.COMPLAINT)
        self._require_stage("record the investigation", Stage.INVESTIGATING)

    def _check_propose_remedy(self, input: ProposeRemedyInput, now: datetime) -> None:
        policy = self._policy()
        self._require_kind("propose a remedy", CaseKind.COMPLAINT)
        self._require_open()
        if self.state.stage is Stage.RECEIVED:
            raise _reject("acknowledge the complaint before proposing remedies")
        if input.currency != policy.currency:
            raise _invalid(f"currency: remedies are paid in {policy.currency}")
        monetary = input.kind.value in ("compensation", "fee_refund")
        if monetary and input.amount is None:
            raise _invalid(f"amount: a {input.kind.value} needs an amount")

    def _check_decide_remedy(self, input: ApproveRemedyInput, now: datetime) -> None:
        remedy = self._remedy(input.remedy_id)
        if remedy.status is not RemedyStatus.PENDING_APPROVAL:
            raise _reject(f"remedy {remedy.remedy_id} is already {remedy.status.value}")
        if input.actor == remedy.proposed_by:
            raise _invalid("actor: maker-checker — the proposer cannot approve their own remedy")

    def _remedy(self, remedy_id: str) -> Remedy:
        for remedy in self.state.remedies:
            if remedy.remedy_id == remedy_id:
                return remedy
        raise _invalid(f"remedy_id: no remedy {remedy_id!r} on this case")

    def _check_send_final_reply(self, input: FinalReplyInput, now: datetime) -> None:
        self._require_kind("send a final reply", CaseKind.COMPLAINT)
        self._require_stage("send the final reply", Stage.AWAITING_FINAL_REPLY)
        pending = [
            r.remedy_id for r in self.state.remedies if r.status is RemedyStatus.PENDING_APPROVAL
        ]
        if pending:
            raise _reject(f"remedies await a supervisor's approval: {', '.join(pending)}")

    def _check_close(self, input: CloseInput, now: datetime) -> None:
        self._require_stage("close", Stage.RESOLVED)

    def _check_reopen(self, input: ReopenInput, now: datetime) -> None:
        self._require_stage("reopen", Stage.CLOSED)
        if self.state.reopen_until is not None and now >= self.state.reopen_until:
            until = self.state.reopen_until.isoformat(timespec="minutes")
            raise _reject(f"the reopen window ended at {until}; open a new case instead")

    def _check_record_feedback(self, input: FeedbackInput, now: datetime) -> None:
        """The satisfaction survey (R6.1) follows each close and is answered once, so
        each case round counts once in the satisfaction figures."""
        survey = self.state.clocks.get(ClockName.SURVEY)
        if survey is None or survey.status is not ClockStatus.RUNNING:
            raise _reject(
                "the satisfaction survey opens when the case closes and is answered once;"
                " it is not open now"
            )

    def _clock(self, name: ClockName) -> Any:
        clock = self.state.clocks.get(name)
        if clock is None:
            raise _reject(f"clock {name.value} is not running on this case")
        return clock

    def _check_extend_clock(self, input: ExtendClockInput, now: datetime) -> None:
        clock = self._clock(input.clock)
        if (input.by is None) == (input.working_days is None):
            raise _invalid("by: give either 'by' (an ISO-8601 duration) or 'working_days'")
        if clock.status is ClockStatus.PAUSED and input.working_days is not None:
            raise _reject("a paused clock is extended by a duration; resume it first")
        if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
            raise _reject(
                f"clock {input.clock.value} is {clock.status.value}; only a running or paused"
                " clock can be extended (extensions are granted before the deadline)"
            )

    def _check_pause_clock(self, input: PauseClockInput, now: datetime) -> None:
        if input.clock in clocks.CUSTOMER_SIDE:
            raise _reject(f"clock {input.clock.value} is the customer's window; it is not paused")
        clock = self._clock(input.clock)
        if clock.status is not ClockStatus.RUNNING:
            raise _reject(f"clock {input.clock.value} is {clock.status.value}, not running")

    def _check_resume_clock(self, input: ResumeClockInput, now: datetime) -> None:
        clock = self._clock(input.clock)
        if clock.status is not ClockStatus.PAUSED:
            raise _reject(f"clock {input.clock.value} is {clock.status.value}, not paused")

    def _check_escalate(self, input: EscalateInput, now: datetime) -> None:
        self._require_open()
        if self.state.escalation_level >= len(self._policy().escalation_ladder):
            raise _reject("the case is already at the top of the escalation ladder")

    def _check_add_note(self, input: NoteInput, now: datetime) -> None:
        return None

    # --- applies: the action fits; change state and queue effects ------------------

    def _apply_acknowledge(self, input: AcknowledgeInput, now: datetime) -> None:
        self._meet(ClockName.FIRST_RESPONSE, now=now)
        seq = self.record("acknowledged", at=now, actor=input.actor, detail=input.note)
        if self.kind is CaseKind.COMPLAINT and self.state.owner is not None:
            self.state.stage = Stage.INVESTIGATING
        else:
            self.state.stage = Stage.ACKNOWLEDGED
        self._customer(CustomerTemplate.ACKNOWLEDGED, seq, agent=input.actor)

    def _apply_answer(self, input: AnswerInput, now: datetime) -> None:
        self._meet(ClockName.FIRST_RESPONSE, now=now)
        seq = self.record("answered", at=now, actor=input.actor, detail=input.answer)
        self.state.stage = Stage.RESOLVED
        self._customer(CustomerTemplate.ANSWERED, seq, answer=input.answer)

    def _apply_transfer(self, input: TransferInput, now: datetime) -> None:
        self._meet(ClockName.FIRST_RESPONSE, now=now)
        self.state.department = input.department
        self.state.stage = Stage.AWAITING_DEPARTMENT_PLAN
        self.transferred_by = input.actor
        for name in (ClockName.DEPARTMENT_PLAN, ClockName.DEPARTMENT_RESULT):
            deadline = self.duration_deadline(name, start=now)
            assert deadline is not None, "department clocks are durations"
            self.start_clock(name, now=now, deadline=deadline)
        seq = self.record(
            "transferred",
            at=now,
            actor=input.actor,
            detail=input.reason,
            department=input.department,
        )
        self.effects.append(DispatchToDepartment(input.department, input.reason, input.actor, seq))
        self._customer(
            CustomerTemplate.TRANSFERRED,
            seq,
            department=input.department,
            deadline=self._deadline_text(ClockName.DEPARTMENT_RESULT),
        )

    def _apply_record_department_plan(self, input: DepartmentPlanInput, now: datetime) -> None:
        self._meet(ClockName.DEPARTMENT_PLAN, now=now)
        self.record(
            "department_plan_received",
            at=now,
            actor=input.actor,
            detail=input.plan,
            department=self.state.department,
        )
        self.state.stage = Stage.AWAITING_DEPARTMENT_RESULT

    def _apply_record_department_result(self, input: DepartmentResultInput, now: datetime) -> None:
        self._meet(ClockName.DEPARTMENT_PLAN, now=now)
        self._meet(ClockName.DEPARTMENT_RESULT, now=now)
        self.record(
            "department_result_received",
            at=now,
            actor=input.actor,
            detail=input.result,
            department=self.state.department,
        )
        self.state.stage = Stage.AWAITING_CUSTOMER_UPDATE
        deadline = self.duration_deadline(ClockName.CUSTOMER_UPDATE, start=now)
        assert deadline is not None, "the customer-update clock is a duration"
        self.start_clock(ClockName.CUSTOMER_UPDATE, now=now, deadline=deadline)

    def _apply_update_customer(self, input: CustomerUpdateInput, now: datetime) -> None:
        seq = self.record("customer_updated", at=now, actor=input.actor, detail=input.message)
        self._customer(CustomerTemplate.PROGRESS, seq, message=input.message)
        if self.state.stage is not Stage.AWAITING_CUSTOMER_UPDATE:
            return  # a progress note: the case stays where it is
        self._meet(ClockName.CUSTOMER_UPDATE, now=now)
        if self.kind is CaseKind.INQUIRY:
            self.state.stage = Stage.RESOLVED  # R3.7: the result has reached the customer
        elif self.investigation_done:
            self.state.stage = Stage.AWAITING_FINAL_REPLY
        else:
            self.state.stage = Stage.INVESTIGATING

    def _apply_assign_owner(self, input: AssignOwnerInput, now: datetime) -> None:
        previous = self.state.owner
        self.state.owner = input.owner
        self.record(
            "owner_assigned",
            at=now,
            actor=input.actor,
            detail=input.reason,
            owner=input.owner,
            previous_owner=previous,
        )
        if self.kind is CaseKind.COMPLAINT and self.state.stage is Stage.ACKNOWLEDGED:
            self.state.stage = Stage.INVESTIGATING

    def _apply_record_investigation(self, input: InvestigationInput, now: datetime) -> None:
        self._meet(ClockName.INVESTIGATION, now=now)
        self.investigation_done = True
        self.record(
            "investigation_recorded",
            at=now,
            actor=input.actor,
            detail=input.findings,
            upheld=input.upheld,
        )
        self.state.stage = Stage.AWAITING_FINAL_REPLY

    def _apply_propose_remedy(self, input: ProposeRemedyInput, now: datetime) -> None:
        policy = self._policy()
        remedy_id = f"R{len(self.state.remedies) + 1}"
        needs_approval = input.amount is not None and input.amount > Decimal(
            policy.remedy_approval_threshold
        )
        remedy = Remedy(
            remedy_id=remedy_id,
            kind=input.kind,
            description=input.description,
            amount=input.amount,
            currency=input.currency,
            status=RemedyStatus.PENDING_APPROVAL if needs_approval else RemedyStatus.APPROVED,
            proposed_by=input.actor,
        )
        if not needs_approval:
            remedy.decided_by, remedy.decided_at = input.actor, now
        self.state.remedies.append(remedy)
        self.record(
            "remedy_proposed",
            at=now,
            actor=input.actor,
            detail=input.description,
            remedy_id=remedy_id,
            kind=input.kind.value,
            amount=str(input.amount) if input.amount is not None else None,
            needs_approval=needs_approval,
        )
        if not needs_approval:
            self.effects.append(RecordRemedy(remedy.model_copy()))

    def _apply_decide_remedy(self, input: ApproveRemedyInput, now: datetime) -> None:
        remedy = self._remedy(input.remedy_id)
        remedy.status = RemedyStatus.APPROVED if input.approve else RemedyStatus.REJECTED
        remedy.decided_by, remedy.decided_at = input.actor, now
        self.record(
            "remedy_approved" if input.approve else "remedy_rejected",
            at=now,
            actor=input.actor,
            detail=input.reason,
            remedy_id=remedy.remedy_id,
        )
        if input.approve:
            self.effects.append(RecordRemedy(remedy.model_copy()))

    def _apply_send_final_reply(self, input: FinalReplyInput, now: datetime) -> None:
        self._meet(ClockName.FINAL_REPLY, now=now)
        approved = [r for r in self.state.remedies if r.status is RemedyStatus.APPROVED]
        seq = self.record("final_reply_sent", at=now, actor=input.actor, detail=input.reply)
        remedies = "; ".join(
            r.description + (f" ({r.amount} {r.currency})" if r.amount is not None else "")
            for r in approved
        )
        self._customer(CustomerTemplate.FINAL_REPLY, seq, reply=input.reply, remedies=remedies)
        self.state.stage = Stage.RESOLVED

    def _apply_close(self, input: CloseInput, now: datetime) -> None:
        policy = self._policy()
        self.state.stage = Stage.CLOSED
        self.state.closed_at = now
        self.state.reopen_until = now + policy.reopen_window
        deadline = self.duration_deadline(ClockName.SURVEY, start=now)
        assert deadline is not None, "the survey window is a duration"
        self.start_clock(ClockName.SURVEY, now=now, deadline=deadline)
        seq = self.record("closed", at=now, actor=input.actor, detail=input.reason)
        self._customer(
            CustomerTemplate.CLOSED_SURVEY,
            seq,
            reopen_until=self.state.reopen_until.isoformat(timespec="minutes"),
        )

    def _apply_reopen(self, input: ReopenInput, now: datetime) -> None:
        """Reopening starts the case's promises again from now; the old ones stay on
        the timeline."""
        self.state.stage = Stage.RECEIVED
        self._manual_escalation = 0
        self.state.closed_at = None
        self.state.reopen_until = None
        self.state.department = None
        self.investigation_done = False
        self.state.clocks.pop(ClockName.SURVEY, None)
        seq = self.record("reopened", at=now, actor=input.actor, detail=input.reason)
        self._customer(CustomerTemplate.REOPENED, seq)
        # Working-day clocks (final reply) are restarted by the workflow, which counts
        # their deadlines in an activity; duration clocks restart here.
        for name in self.intake_clocks():
            deadline = self.duration_deadline(name, start=now)
            if deadline is not None:
                self.start_clock(name, now=now, deadline=deadline)

    def _apply_record_feedback(self, input: FeedbackInput, now: datetime) -> None:
        self._meet(ClockName.SURVEY, now=now)
        feedback = Feedback(score=input.score, comment=input.comment, at=now)
        self.state.feedback = feedback
        seq = self.record(
            "feedback_received", at=now, actor=input.actor, detail=input.comment, score=input.score
        )
        self.effects.append(RecordFeedback(f"{self.state.case_id}-F{seq}", feedback))

    def _apply_extend_clock(self, input: ExtendClockInput, now: datetime) -> None:
        """Duration extensions only; working-day ones go through ``extend_to``."""
        clock = self.state.clocks[input.clock]
        assert input.by is not None
        if clock.status is ClockStatus.PAUSED:
            clocks.extend_paused(clock, by=input.by)
        else:
            assert clock.deadline is not None
            clocks.extend_to(clock, new_deadline=clock.deadline + input.by, now=now)
        self._record_extension(input, now)

    def extend_to(self, input: ExtendClockInput, new_deadline: datetime, *, now: datetime) -> None:
        clocks.extend_to(self.state.clocks[input.clock], new_deadline=new_deadline, now=now)
        self._record_extension(input, now)
        self.refresh_summary()

    def _record_extension(self, input: ExtendClockInput, now: datetime) -> None:
        clock = self.state.clocks[input.clock]
        self.record(
            "clock_extended",
            at=now,
            actor=input.actor,
            detail=input.reason,
            clock=input.clock.value,
            deadline=clock.deadline.isoformat() if clock.deadline else None,
        )

    def _apply_pause_clock(self, input: PauseClockInput, now: datetime) -> None:
        clocks.pause(self.state.clocks[input.clock], now=now)
        self.record(
            "clock_paused", at=now, actor=input.actor, detail=input.reason, clock=input.clock.value
        )

    def _apply_resume_clock(self, input: ResumeClockInput, now: datetime) -> None:
        clocks.resume(self.state.clocks[input.clock], now=now)
        self.record(
            "clock_resumed", at=now, actor=input.actor, detail=input.reason, clock=input.clock.value
        )

    def _apply_escalate(self, input: EscalateInput, now: datetime) -> None:
        ladder = self._policy().escalation_ladder
        self._manual_escalation = self.state.escalation_level + 1
        level = self._manual_escalation
        seq = self.record("escalated", at=now, actor=input.actor, detail=input.reason, level=level)
        self.effects.append(
            NotifyStaff(
                StaffAlertKind.ESCALATION,
                None,
                ladder[level - 1],
                None,
                self.state.department,
                level,
                None,
                f"Case {self.state.case_id} escalated by {input.actor}: {input.reason}",
                seq,
            )
        )

    def _apply_add_note(self, input: NoteInput, now: datetime) -> None:
        self.record("note_added", at=now, actor=input.actor, detail=input.note)

    # --- crisis incidents (R8): the incident links the case and asks it to write ----
    # to its customer, whose contact data only the case holds. Each is applied once
    # per incident; a repeat is rejected as AlreadyApplied, which the sender counts
    # as done.

    def _incident(self, incident_id: str) -> IncidentLink | None:
        return next((i for i in self.state.incidents if i.incident_id == incident_id), None)

    def _check_join_incident(self, input: JoinIncidentInput, now: datetime) -> None:
        if self._incident(input.incident_id) is not None:
            raise RejectionError(
                "AlreadyApplied", f"the case is already in incident {input.incident_id}"
            )

    def _apply_join_incident(self, input: JoinIncidentInput, now: datetime) -> None:
        self.state.incidents.append(
            IncidentLink(incident_id=input.incident_id, title=input.title, joined_at=now)
        )
        self.record(
            "incident_joined",
            at=now,
            actor=input.actor,
            detail=input.title,
            incident_id=input.incident_id,
        )

    def _check_send_incident_holding(self, input: IncidentHoldingInput, now: datetime) -> None:
        link = self._incident(input.incident_id)
        if link is None:
            raise _reject(f"the case is not in incident {input.incident_id}")
        if link.holding_sent_at is not None:
            raise RejectionError(
                "AlreadyApplied",
                f"the customer already has incident {input.incident_id}'s holding message",
            )
        self._require_open()

    def _apply_send_incident_holding(self, input: IncidentHoldingInput, now: datetime) -> None:
        link = self._incident(input.incident_id)
        assert link is not None
        link.holding_sent_at = now
        seq = self.record(
            "incident_holding_sent", at=now, actor=input.actor, incident_id=input.incident_id
        )
        self._customer(CustomerTemplate.INCIDENT_HOLDING, seq)

    # --- clocks firing on their own ------------------------------------------------

    def next_clock_event(self) -> ClockEvent | None:
        policy = self._policy()
        events = [
            e for c in self.state.clocks.values() if (e := clocks.next_event(c, policy)) is not None
        ]
        return min(events, key=lambda e: e.at, default=None)

    def fire_due(self, *, now: datetime) -> None:
        """Fire every clock event due by ``now`` (R2.1: at the deadline, not later)."""
        while (event := self.next_clock_event()) is not None and event.at <= now:
            clock = self.state.clocks[event.clock]
            clocks.fire(clock, event)
            self._announce(event, now=now)
        self.refresh_summary()

    def _responsible(self, name: ClockName) -> tuple[str, str | None, str | None]:
        """Who owes this clock: (role, user, department)."""
        if name in (ClockName.DEPARTMENT_PLAN, ClockName.DEPARTMENT_RESULT):
            return "department", None, self.state.department
        if name is ClockName.CUSTOMER_UPDATE:
            return "agent", self.transferred_by or self.state.owner, None
        if name in (ClockName.INVESTIGATION, ClockName.FINAL_REPLY):
            return "complaint_owner", self.state.owner, None
        return "frontline_agents", None, None

    def _announce(self, event: ClockEvent, *, now: datetime) -> None:
        clock = self.state.clocks[event.clock]
        name = event.clock.value
        if event.kind is ClockEventKind.EXPIRY:
            self.record("survey_expired", at=event.at, actor=SYSTEM, clock=name)
            return
        ladder = self._policy().escalation_ladder
        role, user, department = self._responsible(event.clock)
        deadline = clock.deadline
        case_id = self.state.case_id
        if event.kind is ClockEventKind.WARNING:
            seq = self.record("clock_warning", at=event.at, actor=SYSTEM, clock=name)
            alert, message = StaffAlertKind.WARNING, f"Case {case_id}: {name} deadline approaching"
        elif event.kind is ClockEventKind.BREACH:
            seq = self.record("clock_breached", at=event.at, actor=SYSTEM, clock=name)
            alert, message = StaffAlertKind.BREACH, f"Case {case_id}: {name} deadline missed"
            self.effects.append(
                NotifyStaff(alert, event.clock, role, user, department, 0, deadline, message, seq)
            )
            if event.clock in (ClockName.DEPARTMENT_RESULT, ClockName.FINAL_REPLY):
                # The customer hears that the bank is still on it, not silence (R2.2).
                self._customer(CustomerTemplate.HOLDING, seq)
            role, user = ladder[0], None
            alert = StaffAlertKind.ESCALATION
            message = f"Case {case_id}: {name} deadline missed; escalated to {ladder[0]}"
        else:
            seq = self.record(
                "clock_escalated", at=event.at, actor=SYSTEM, clock=name, level=event.level
            )
            role, user = ladder[event.level - 1], None
            alert = StaffAlertKind.ESCALATION
            message = f"Case {case_id}: {name} still unmet; escalated to {role}"
        # The clock's rung after firing: 0 for a warning, 1 for the breach (the first
        # rung of the ladder hears at the deadline), then the escalation's own level.
        level = clock.escalation_level
        self.effects.append(
            NotifyStaff(alert, event.clock, role, user, department, level, deadline, message, seq)
        )

    # --- the end of a case ---------------------------------------------------------

    def finished(self, *, now: datetime) -> bool:
        """Closed, past the reopen window, and the survey answered or lapsed."""
        if self.state.stage is not Stage.CLOSED or self.state.reopen_until is None:
            return False
        survey = self.state.clocks.get(ClockName.SURVEY)
        survey_open = survey is not None and survey.status is ClockStatus.RUNNING
        return now >= self.state.reopen_until and not survey_open
