"""The action table's types: each action's input, check and apply, side by side.

A check raises ``RejectionError`` and changes nothing (the update validator's job); an
apply changes the case and queues its effects. A ``CountingRule`` first needs
working-day deadlines that only an activity can count (the ``holidays`` calendar
cannot run inside the workflow sandbox): the workflow counts them, checks again, and
hands them to ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from contracts.actions import Action, ActionBody, ActionName
from workflows.case_file import CaseFile

A = TypeVar("A", bound=Action)


@dataclass(frozen=True)
class WorkingDayCount:
    """A deadline to count in an activity: ``days`` working days after ``start``."""

    start: datetime
    days: int


@dataclass(frozen=True)
class CountedDeadline:
    """A working-day count and the deadline the activity returned for it."""

    count: WorkingDayCount
    deadline: datetime


@dataclass(frozen=True)
class ActionRule(Generic[A]):
    """An action applied in one step."""

    name: ActionName
    body: type[ActionBody]
    input: type[A]
    check: Callable[[CaseFile, A, datetime], None]
    apply: Callable[[CaseFile, A, datetime], None]


@dataclass(frozen=True)
class CountingRule(Generic[A]):
    """An action whose apply needs working-day deadlines counted first."""

    name: ActionName
    body: type[ActionBody]
    input: type[A]
    check: Callable[[CaseFile, A, datetime], None]
    counts: Callable[[CaseFile, A, datetime], Mapping[str, WorkingDayCount]]
    apply: Callable[[CaseFile, A, datetime, Mapping[str, CountedDeadline]], None]


AnyRule = ActionRule[Any] | CountingRule[Any]
