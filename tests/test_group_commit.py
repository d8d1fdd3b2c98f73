"""Many cases' register writes in one transaction, on real SQLite and PostgreSQL.

A batch must leave the register exactly as the same steps written one at a time do;
a late retry in a batch must not move its case backwards; a job that cannot be written
fails alone; and concurrent callers are served in shared batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from activities.register import record_case_progress
from contracts.activities import CaseProgressInput
from contracts.case import ClockStatus, ClockView, Stage
from contracts.policy import ClockName
from store.db import session_scope
from store.group_commit import GroupWriter
from store.projection import project_many, project_one
from tests.test_store import T0, event, snapshot


def step(case_id: str, seqs: Sequence[int], **changes: Any) -> CaseProgressInput:
    return CaseProgressInput(
        snapshot=snapshot(case_id, **changes), events=[event(seq) for seq in seqs]
    )


def register_contents(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected row, in a stable order, without the write time."""
    queries = {
        "cases": "SELECT case_id, stage, owner, last_seq, breached FROM cases ORDER BY case_id",
        "events": "SELECT case_id, seq, type, actor FROM case_events ORDER BY case_id, seq",
        "clocks": "SELECT case_id, clock, status FROM case_clocks ORDER BY case_id, clock",
    }
    with session_scope(database_url) as session:
        return {
            name: [tuple(row) for row in session.execute(text(sql)).all()]
            for name, sql in queries.items()
        }


ACKED_CLOCKS = {
    ClockName.FIRST_RESPONSE: ClockView(
        name=ClockName.FIRST_RESPONSE,
        status=ClockStatus.MET,
        started_at=T0,
        deadline=T0 + timedelta(minutes=5),
        met_at=T0 + timedelta(minutes=2),
    )
}


def steps() -> list[CaseProgressInput]:
    return [
        step("C-1", [1, 2]),
        step("C-2", [1]),
        step("C-2", [2, 3], stage=Stage.ACKNOWLEDGED, owner="agent-7", clocks=ACKED_CLOCKS),
        step("C-3", [1, 2, 3], breached=True),
    ]


def test_a_batch_writes_what_the_steps_write_one_at_a_time(
    database_url: str, tmp_path: Any
) -> None:
    with session_scope(database_url, write=True) as session:
        applied = project_many(session, steps())
    together = register_contents(database_url)
    with session_scope(database_url, write=True) as session:
        session.execute(text("DELETE FROM case_clocks"))
        session.execute(text("DELETE FROM case_events"))
        session.execute(text("DELETE FROM cases"))
    one_by_one = []
    for progress in steps():
        with session_scope(database_url, write=True) as session:
            one_by_one.append(project_one(session, progress))
    assert register_contents(database_url) == together
    # Both steps of C-2 applied one by one; in one batch only the newer one could.
    assert one_by_one == [True, True, True, True]
    assert applied == [True, False, True, True]
    assert together["cases"][1] == ("C-2", "acknowledged", "agent-7", 3, False)
    assert ("C-2", "first_response", "met") in together["clocks"]
    assert len(together["events"]) == 8


def test_a_late_retry_in_a_batch_keeps_the_newer_row(database_url: str) -> None:
    with session_scope(database_url, write=True) as session:
        project_one(session, step("C-1", [1, 2, 3], stage=Stage.ACKNOWLEDGED))
    with session_scope(database_url, write=True) as session:
        applied = project_many(session, [step("C-1", [1]), step("C-9", [1])])
    contents = register_contents(database_url)
    assert applied == [False, True]
    assert contents["cases"][0][:2] == ("C-1", "acknowledged")
    assert [row[1] for row in contents["events"] if row[0] == "C-1"] == [1, 2, 3]


class _Recorder:
    """A batch writer that records each batch's size and refuses one case."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    def write_batch(self, session: Session, batch: Sequence[CaseProgressInput]) -> list[bool]:
        with self.lock:
            self.sizes.append(len(batch))
        if any(p.snapshot.case_id == self.refused for p in batch):
            raise ValueError("refused")
        return project_many(session, batch)

    def write_one(self, session: Session, progress: CaseProgressInput) -> bool:
        if progress.snapshot.case_id == self.refused:
            raise ValueError(f"{self.refused} refused")
        return project_one(session, progress)


def test_a_job_that_cannot_be_written_fails_alone(database_url: str) -> None:
    recorder = _Recorder(refused="C-13")
    writer = GroupWriter(
        database_url,
        write_batch=recorder.write_batch,
        write_one=recorder.write_one,
        name="test-writer",
    )
    ids = [f"C-{n}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = {case_id: pool.submit(writer.write, step(case_id, [1])) for case_id in ids}
    with pytest.raises(ValueError, match="C-13 refused"):
        futures["C-13"].result()
    assert all(futures[c].result() for c in ids if c != "C-13")
    stored = [row[0] for row in register_contents(database_url)["cases"]]
    assert sorted(stored) == sorted(c for c in ids if c != "C-13")
    # The callers shared batches: fewer batches than jobs, and some held several.
    assert max(recorder.sizes) > 1


def test_concurrent_steps_through_the_activity_are_all_projected(
    database_env: str,
) -> None:
    """The activity as the worker runs it: 50 threads at once, as 50 cases' steps."""
    inputs = [step(f"C-{n}", [1, 2]) for n in range(50)] + [
        step(f"C-{n}", [3], stage=Stage.ACKNOWLEDGED) for n in range(0, 50, 5)
    ]
    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(record_case_progress, inputs[:50]))
        list(pool.map(record_case_progress, inputs[50:]))
    contents = register_contents(database_env)
    assert len(contents["cases"]) == 50
    assert len(contents["events"]) == 110
    acknowledged = {row[0] for row in contents["cases"] if row[1] == "acknowledged"}
    assert acknowledged == {f"C-{n}" for n in range(0, 50, 5)}
