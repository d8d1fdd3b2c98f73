"""Improvement actions (R2.4, R6.3): one workflow per action, with its own clocks.

An action comes from a report finding, a proposal, a staff suggestion or a
supervisor; it has an owner, a due date and a measurable target the monthly report
judges after it closes. One input model per workflow, update and activity
(docs/architecture.md, rule 6).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.activities import ActivityRef
from contracts.case import Name, Text

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class ActionSource(StrEnum):
    FINDING = "finding"  # a finding of a monthly or quarterly report
    PROPOSAL = "proposal"  # a supervisor's proposal written on a finding
    SUGGESTION = "suggestion"  # a staff suggestion a supervisor accepted
    SUPERVISOR = "supervisor"  # a supervisor's own


class ActionStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    CLOSED = "closed"


class TargetMeasure(StrEnum):
    ON_TIME_SHARE = "on_time_share"  # one clock's on-time share, 0..1
    SATISFACTION_MEAN = "satisfaction_mean"  # mean survey score, 1..5


class ActionTarget(BaseModel):
    """What must be true of the register's figures, e.g. first responses on phone
    card cases on time at least 95% of the time. ``category``/``channel`` left out
    mean every one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measure: TargetMeasure
    clock: Code | None = None
    category: Label | None = None
    channel: Code | None = None
    at_least: float = Field(ge=0, le=5)

    def check(self) -> str | None:
        """Why the target cannot be measured, or None."""
        if self.measure is TargetMeasure.ON_TIME_SHARE:
            if self.clock is None:
                return "target.clock: an on-time target names its clock"
            if self.at_least > 1:
                return "target.at_least: an on-time share is between 0 and 1 (0.95 = 95%)"
        elif self.clock is not None:
            return "target.clock: a satisfaction target names no clock"
        elif self.at_least < 1:
            return "target.at_least: a mean score is between 1 and 5"
        return None

    def describe(self) -> str:
        scope = " / ".join(x for x in (self.category, self.channel) if x) or "every case"
        if self.measure is TargetMeasure.ON_TIME_SHARE:
            return f"{self.clock} on time at least {self.at_least:.0%} ({scope})"
        return f"mean satisfaction at least {self.at_least:.2f} ({scope})"


class TrainingRequest(BaseModel):
    """A training the action asks for; a recorded session naming the action links it."""

    model_config = ConfigDict(extra="forbid")

    topic: Text
    categories: list[Label] = Field(default_factory=list, max_length=50)


class PolicyProposal(BaseModel):
    """A proposed revision of a policy file, for operations to review and apply: the
    workflow never changes the running policy."""

    model_config = ConfigDict(extra="forbid")

    file: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]{1,200}$")]
    change: Text  # the revision, e.g. a TOML fragment
    rationale: Text


class ImprovementActionInput(BaseModel):
    action_id: str
    title: Text
    description: str | None = None
    source: ActionSource
    source_ref: str | None = None
    owner: Name
    due: datetime
    target: ActionTarget
    created_by: Name
    training: TrainingRequest | None = None
    policy_proposal: PolicyProposal | None = None
    # From the reports file when the action was opened: it keeps them to the end.
    remind_before: timedelta
    escalate_every: timedelta
    escalation_ladder: tuple[str, ...]


class ActionNote(BaseModel):
    at: datetime
    actor: str
    text: str


class ActionState(BaseModel):
    action_id: str
    title: str
    description: str | None = None
    source: ActionSource
    source_ref: str | None = None
    owner: str
    due: datetime
    target: ActionTarget
    status: ActionStatus
    created_by: str
    created_at: datetime
    reminded_at: datetime | None = None
    overdue_at: datetime | None = None
    escalation_level: int = 0
    notes: list[ActionNote] = Field(default_factory=list)
    training: TrainingRequest | None = None
    training_ids: list[str] = Field(default_factory=list)
    policy_proposal: PolicyProposal | None = None
    outcome: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    # Bumped at every change: the register keeps the newest projection.
    version: int = 0


class ActionNoteInput(BaseModel):
    actor: Name
    text: Text


class LinkTrainingInput(BaseModel):
    actor: Name
    training_id: str


class CloseActionInput(BaseModel):
    actor: Name
    # Refused without one (the validator names the field): no action closes unrecorded.
    outcome: str | None = None


# The action workflow calls these activities by name.
RECORD_IMPROVEMENT_ACTION = ActivityRef("record_improvement_action", ActionState, type(None))
IMPROVEMENT_ACTIVITIES = (RECORD_IMPROVEMENT_ACTION,)
