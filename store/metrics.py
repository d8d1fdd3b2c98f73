"""Business figures from the register, computed when Prometheus scrapes.

One ``GROUP BY`` query per family (the two timeline families share one), read at
scrape time, so the figures are always the register's and nothing has to be kept in
step with it:

- ``case_engine_cases{stage, kind}``: cases by stage (closed ones included);
  ``case_engine_open_cases{stage, kind}``: the same rows, open stages only (the
  stages a case can still be worked in; ``resolved`` and ``closed`` are not open).
- ``case_engine_clock_breaches_total{clock}``: ``clock_breached`` timeline events.
- ``case_engine_escalations_total{clock, trigger}``: ``clock_escalated`` events
  (``trigger="clock"``, by the clock that is still unmet) and supervisors'
  ``escalated`` events (``trigger="manual"``, ``clock="none"``).
- ``case_engine_deliveries{outbox, status}``: the customer and staff outboxes by
  status (``queued``, ``sent``, ``failed``) and department work items
  (``queued`` in the register until the department's webhook took them, then
  ``delivered``; a department without a webhook reads its queue through the API, so
  its items stay ``queued``).

Labels are only stages, kinds, clocks and statuses: no case, customer or staff
identifier ever reaches a label, so the endpoint holds no personal data. Every label
combination is exported, zero when no row has it, so a series never disappears.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, case, func, literal_column, select, union_all
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col

from contracts.case import CaseKind, Stage
from contracts.policy import ClockName
from store.db import get_engine
from store.outbox import FAILED, QUEUED, SENT
from store.tables import (
    CaseEventRow,
    CaseRow,
    CustomerNotification,
    DepartmentWorkItem,
    StaffNotification,
)

__all__ = ["RegisterCollector"]

log = logging.getLogger(__name__)

# workflows.case_file.OPEN_STAGES, without importing the workflow module here.
OPEN_STAGES = tuple(s for s in Stage if s not in (Stage.RESOLVED, Stage.CLOSED))
BREACHED = "clock_breached"
CLOCK_ESCALATED = "clock_escalated"
MANUAL_ESCALATED = "escalated"
NO_CLOCK = "none"
DELIVERED = "delivered"
OUTBOX_STATUSES = (QUEUED, SENT, FAILED)
WORK_ITEM_STATUSES = (QUEUED, DELIVERED)


class RegisterCollector(Collector):
    """Prometheus collector over the register at ``database_url``.

    When the register cannot be read, ``case_engine_register_up`` is 0 and the
    business families are left out of that scrape (rather than reported as zeros).
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def describe(self) -> Iterable[Any]:
        # Nothing to describe up front: registering must not query the database.
        return []

    def collect(self) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with get_engine(self.database_url).connect() as connection:
                # One scan of the timeline serves both event families.
                events = _event_counts(connection, [BREACHED, CLOCK_ESCALATED, MANUAL_ESCALATED])
                families = [
                    *_cases(connection),
                    _breaches(events),
                    _escalations(events),
                    _deliveries(connection),
                ]
        except SQLAlchemyError as err:
            log.warning("register metrics unavailable: %s", type(err).__name__)
            families = []
        up = GaugeMetricFamily(
            "case_engine_register_up", "1 if the register answered this scrape's queries"
        )
        up.add_metric([], 1.0 if families else 0.0)
        took = GaugeMetricFamily(
            "case_engine_register_scrape_seconds", "Time the register's queries took"
        )
        took.add_metric([], time.perf_counter() - started)
        yield from families
        yield up
        yield took


def _cases(connection: Connection) -> list[GaugeMetricFamily]:
    statement = select(col(CaseRow.stage), col(CaseRow.kind), func.count()).group_by(
        col(CaseRow.stage), col(CaseRow.kind)
    )
    counts = _counts(connection.execute(statement).all())
    every = GaugeMetricFamily(
        "case_engine_cases", "Cases in the register by stage and kind", labels=["stage", "kind"]
    )
    open_ = GaugeMetricFamily(
        "case_engine_open_cases", "Open cases by stage and kind", labels=["stage", "kind"]
    )
    for stage in Stage:
        for kind in CaseKind:
            value = float(counts.pop((stage.value, kind.value), 0))
            every.add_metric([stage.value, kind.value], value)
            if stage in OPEN_STAGES:
                open_.add_metric([stage.value, kind.value], value)
    for (stage_value, kind_value), n in counts.items():  # values no enum knows (yet)
        every.add_metric([stage_value, kind_value], float(n))
    return [every, open_]


def _event_counts(connection: Connection, types: Sequence[str]) -> dict[tuple[str, ...], int]:
    # Labels computed in a subquery and grouped outside it: PostgreSQL refuses a GROUP
    # BY whose expression differs from the select list's only by its bound parameters.
    events = (
        select(
            col(CaseEventRow.type).label("type"),
            func.coalesce(col(CaseEventRow.data)["clock"].as_string(), _text(NO_CLOCK)).label(
                "clock"
            ),
        )
        .where(col(CaseEventRow.type).in_(types))
        .subquery()
    )
    statement = select(events.c.type, events.c.clock, func.count()).group_by(
        events.c.type, events.c.clock
    )
    return _counts(connection.execute(statement).all())


def _breaches(events: dict[tuple[str, ...], int]) -> CounterMetricFamily:
    counts = {key: n for key, n in events.items() if key[0] == BREACHED}
    family = CounterMetricFamily(
        "case_engine_clock_breaches", "Deadlines missed, by clock", labels=["clock"]
    )
    for clock in ClockName:
        family.add_metric([clock.value], float(counts.pop((BREACHED, clock.value), 0)))
    for (_type, clock_value), n in counts.items():
        family.add_metric([clock_value], float(n))
    return family


def _escalations(events: dict[tuple[str, ...], int]) -> CounterMetricFamily:
    counts = {key: n for key, n in events.items() if key[0] != BREACHED}
    family = CounterMetricFamily(
        "case_engine_escalations",
        "Escalations: by a clock still unmet after its breach, or by a supervisor",
        labels=["clock", "trigger"],
    )
    for clock in ClockName:
        value = float(counts.pop((CLOCK_ESCALATED, clock.value), 0))
        family.add_metric([clock.value, "clock"], value)
    manual = sum(n for (type_, _), n in counts.items() if type_ == MANUAL_ESCALATED)
    family.add_metric([NO_CLOCK, "manual"], float(manual))
    for (type_, clock_value), n in counts.items():
        if type_ == CLOCK_ESCALATED:
            family.add_metric([clock_value, "clock"], float(n))
    return family


def _deliveries(connection: Connection) -> GaugeMetricFamily:
    work_items = select(
        case(
            (col(DepartmentWorkItem.delivered_at).is_(None), _text(QUEUED)),
            else_=_text(DELIVERED),
        ).label("status")
    ).subquery()
    statement = union_all(
        select(_text("customer"), col(CustomerNotification.status), func.count()).group_by(
            col(CustomerNotification.status)
        ),
        select(_text("staff"), col(StaffNotification.status), func.count()).group_by(
            col(StaffNotification.status)
        ),
        select(_text("department"), work_items.c.status, func.count()).group_by(
            work_items.c.status
        ),
    )
    counts = _counts(connection.execute(statement).all())
    family = GaugeMetricFamily(
        "case_engine_deliveries",
        "Outbox rows by status: customer messages, staff alerts, department work items",
        labels=["outbox", "status"],
    )
    expected = [("customer", s) for s in OUTBOX_STATUSES]
    expected += [("staff", s) for s in OUTBOX_STATUSES]
    expected += [("department", s) for s in WORK_ITEM_STATUSES]
    for outbox, status in expected:
        family.add_metric([outbox, status], float(counts.pop((outbox, status), 0)))
    for (outbox, status), n in counts.items():
        family.add_metric([outbox, status], float(n))
    return family


def _counts(rows: Iterable[Any]) -> dict[tuple[str, ...], int]:
    """``(label, ..., count)`` rows as a dict; rows that group alike are summed."""
    counts: dict[tuple[str, ...], int] = {}
    for row in rows:
        *labels, n = tuple(row)
        key = tuple(str(label) for label in labels)
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def _text(value: str) -> Any:
    """A string constant written into the SQL (not a bound parameter), so the same
    statement groups alike on SQLite and PostgreSQL."""
    if "'" in value:
        raise ValueError(f"not a plain label: {value!r}")
    return literal_column(f"'{value}'")
