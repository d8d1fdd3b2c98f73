"""A case's state and the bookkeeping every rule shares.

``CaseFile`` is plain state plus helpers. It never calls Temporal: the case workflow
hands it ``workflow.now()`` and carries out the effects the rules queue on it, so the
same history always produces the same decisions. The rules themselves, one action at
a time, are in ``workflows.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.activities import CaseSnapshot, CustomerTemplate
from contracts.case import (
    CaseKind,
    CaseOpenInput,
    CaseResume,
    CaseState,
    ClockStatus,
    ClockView,
    RegulatoryBand,
    RegulatoryView,
    Remedy,
    Stage,
    TimelineEvent,
)
from contracts.policy import ClockName, RegulatorRegime, RegulatorRules, ResolvedPolicy
from workflows import clocks
from workflows.effects import Effect, NotifyCustomer

# Tuples, not sets: their order is fixed, so texts built from them (rejection reasons,
# recorded on the timeline by rejected signals) are the same on every replay.
OPEN_STAGES: tuple[Stage, ...] = tuple(s for s in Stage if s not in (Stage.RESOLVED, Stage.CLOSED))
DEPARTMENT_STAGES: tuple[Stage, ...] = (
    Stage.AWAITING_DEPARTMENT_PLAN,
    Stage.AWAITING_DEPARTMENT_RESULT,
)
SYSTEM = "system"


class RejectionError(Exception):
    """An action that does not fit: ``kind`` is ``ActionRejected`` (wrong stage or state),
    ``InvalidAction`` (a value wrong for this case) or ``WrongDepartment`` (a department
    acting on a case another one holds)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def reject(reason: str) -> RejectionError:
    return RejectionError("ActionRejected", reason)


def invalid(reason: str) -> RejectionError:
    return RejectionError("InvalidAction", reason)


def _a(kind: CaseKind) -> str:
    """'an inquiry', 'a complaint': rejection reasons are read by people."""
    return f"{'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value}"


@dataclass
class CaseFile:
    """A case's state and the helpers the rules use to move it."""

    intake: CaseOpenInput
    state: CaseState
    policy: ResolvedPolicy | None = None
    investigation_done: bool = False
    transferred_by: str | None = None
    # The level a supervisor escalated to by hand; clocks' own levels are on the clocks.
    manual_escalation: int = 0
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

    @classmethod
    def resume(cls, intake: CaseOpenInput, resume: CaseResume) -> CaseFile:
        """The case as its previous run left it (continue-as-new)."""
        return cls(
            intake=intake.model_copy(update={"resume": None}),
            state=resume.state,
            policy=resume.policy,
            investigation_done=resume.investigation_done,
            transferred_by=resume.transferred_by,
            manual_escalation=resume.manual_escalation,
        )

    def carry_over(
        self,
        *,
        projected_seq: int,
        effects: list[dict[str, Any]],
        receipts: int,
        answers: dict[str, CaseState],
    ) -> CaseResume:
        """Everything the next run needs: the events up to ``projected_seq`` are in the
        register, so only those after it are carried."""
        assert self.policy is not None
        state = self.state
        unprojected = state.timeline[projected_seq - state.timeline_offset :]
        state = state.model_copy(update={"timeline": unprojected, "timeline_offset": projected_seq})
        return CaseResume(
            state=state,
            effects=effects,
            policy=self.policy,
            investigation_done=self.investigation_done,
            transferred_by=self.transferred_by,
            manual_escalation=self.manual_escalation,
            receipts=receipts,
            answers=answers,
        )

    # --- bookkeeping ---------------------------------------------------------------

    def record(
        self, type_: str, *, at: datetime, actor: str, detail: str | None = None, **data: Any
    ) -> int:
        """Add a timeline event (R2.2: what, when, who); returns its sequence number."""
        seq = self.state.last_seq + 1
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

    def resolved_policy(self) -> ResolvedPolicy:
        """The case's policy; an action that arrives during intake is refused."""
        if self.policy is None:
            raise reject("the case's intake is still in progress; try again in a moment")
        return self.policy

    def notify_customer(self, template: CustomerTemplate, seq: int, **params: str) -> None:
        params.setdefault("case_id", self.state.case_id)
        if self.policy is not None:
            params.setdefault("timezone", self.policy.timezone)
        self.effects.append(NotifyCustomer(template, params, seq))

    # --- clocks --------------------------------------------------------------------

    def start_clock(self, name: ClockName, *, now: datetime, deadline: datetime) -> None:
        self.state.clocks[name] = clocks.start_clock(
            name, now=now, deadline=deadline, share=self.resolved_policy().warning_share
        )

    def start_regulator(
        self,
        regulator: RegulatorRules,
        regime: RegulatorRegime,
        bands: list[RegulatoryBand],
        *,
        now: datetime,
        deadline: datetime,
    ) -> None:
        """The regulator's limit as a clock of its own, beside the bank's (R9)."""
        taxonomy = regulator.taxonomy
        self.state.regulatory = RegulatoryView(
            profile=regulator.profile,
            regime=regime.name,
            bands=bands,
            taxonomy=taxonomy.taxonomy if taxonomy else None,
            taxonomy_version=taxonomy.version if taxonomy else None,
        )
        self.start_clock(ClockName.REGULATOR_REPLY, now=now, deadline=deadline)

    def regulator_regime(self) -> tuple[RegulatorRules, RegulatorRegime]:
        """The case's regulator profile and regime; refused on a case without one."""
        regulatory = self.state.regulatory
        regulator = self.resolved_policy().regulator
        if regulatory is None or regulator is None:
            raise reject("this case runs under no regulator profile")
        for regime in regulator.regimes:
            if regime.name == regulatory.regime:
                return regulator, regime
        raise reject(f"regime {regulatory.regime!r} is not in the case's profile")

    def meet(self, name: ClockName, *, now: datetime) -> None:
        clock = self.state.clocks.get(name)
        if clock is not None and clocks.meet(clock, now=now):
            self.record("clock_met", at=now, actor=SYSTEM, clock=name.value)

    def clock(self, name: ClockName) -> ClockView:
        clock = self.state.clocks.get(name)
        if clock is None:
            raise reject(f"clock {name.value} is not running on this case")
        return clock

    def deadline_text(self, name: ClockName) -> str:
        clock = self.state.clocks.get(name)
        if clock is None or clock.deadline is None:
            return "-"
        return clock.deadline.isoformat(timespec="minutes")

    def duration_deadline(self, name: ClockName, *, start: datetime) -> datetime | None:
        """The deadline of a duration clock; None for a working-day clock."""
        rule = self.resolved_policy().clocks[name]
        return start + rule.duration if rule.duration is not None else None

    def intake_clocks(self) -> list[ClockName]:
        """Clocks that start at receipt (R3.2; R4.3 and R4.4 for complaints)."""
        names = [ClockName.FIRST_RESPONSE]
        if self.kind is CaseKind.COMPLAINT:
            names += [ClockName.INVESTIGATION, ClockName.FINAL_REPLY]
        return names

    def refresh_summary(self) -> None:
        """Derived fields: whether anything is overdue, the highest escalation."""
        overdue = [c for c in self.state.clocks.values() if c.status is ClockStatus.BREACHED]
        self.state.breached = any(c.met_at is None for c in overdue)
        levels = [c.escalation_level for c in overdue if c.met_at is None]
        self.state.escalation_level = max([*levels, self.manual_escalation])

    def next_deadline(self) -> datetime | None:
        deadlines = [
            c.deadline
            for c in self.state.clocks.values()
            if c.status is ClockStatus.RUNNING and c.deadline is not None
        ]
        return min(deadlines, default=None)

    # --- requirements the checks share ---------------------------------------------

    def require_open(self) -> None:
        if not self.is_open:
            raise reject(f"the case is {self.state.stage.value}; this action needs an open case")

    def require_stage(self, action: str, *stages: Stage) -> None:
        if self.state.stage not in stages:
            wanted = ", ".join(s.value for s in stages)
            raise reject(
                f"cannot {action} while the case is {self.state.stage.value} (needs: {wanted})"
            )

    def require_kind(self, action: str, kind: CaseKind) -> None:
        if self.kind is not kind:
            raise reject(f"cannot {action} on {_a(self.kind)}; only on {_a(kind)}")

    def require_department(self, acting: str | None) -> None:
        if acting is not None and acting != self.state.department:
            holder = self.state.department or "no department"
            raise RejectionError(
                "WrongDepartment", f"this case is with {holder}, not department {acting}"
            )

    def remedy(self, remedy_id: str) -> Remedy:
        for remedy in self.state.remedies:
            if remedy.remedy_id == remedy_id:
                return remedy
        raise invalid(f"remedy_id: no remedy {remedy_id!r} on this case")

    # --- intake and the register ---------------------------------------------------

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
        self.notify_customer(CustomerTemplate.RECEIVED, seq, deadline=self.deadline_text(due))
        if self.kind is CaseKind.COMPLAINT:
            self.record("entered_in_complaint_register", at=now, actor=SYSTEM)

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
            regulatory=s.regulatory,
        )

    # --- the end of a case ---------------------------------------------------------

    def finished(self, *, now: datetime) -> bool:
        """Closed, past the reopen window, and the survey answered or lapsed."""
        if self.state.stage is not Stage.CLOSED or self.state.reopen_until is None:
            return False
        survey = self.state.clocks.get(ClockName.SURVEY)
        survey_open = survey is not None and survey.status is ClockStatus.RUNNING
        return now >= self.state.reopen_until and not survey_open
