"""Staff training, assessment and suggestions (R5.1-R5.3, R6.5): the rules the
quarterly evaluation applies and the verdicts it gives."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PeopleRules(BaseModel):
    """The ``[people]`` table of the reports file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_min_cases: int = Field(ge=1)
    training_window_days: int = Field(ge=1, le=366)
    training_min_cases: int = Field(ge=1)
    training_change_points: float = Field(gt=0)
    action_remind_days: int = Field(ge=1)
    action_escalate_days: int = Field(ge=1)
    action_escalation_ladder: tuple[str, ...] = Field(min_length=1)
    action_target_min_cases: int = Field(ge=1)


class TrainingVerdict(StrEnum):
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    WORSE = "worse"
    TOO_FEW_CASES = "too_few_cases"


class SuggestionStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
