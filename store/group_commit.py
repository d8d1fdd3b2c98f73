"""Group commit: the jobs that wait to be written go into one transaction together.

A worker runs many cases' steps at once, and each step's projection is a short write.
One at a time, under load, they queue for SQLite's single writer and for the
interpreter lock at every statement; a step's register write took a third of a second
on average (``bench/README.md``). Here one thread per database takes every job waiting,
writes them together (``write_batch``) and commits once. A batch that fails is written
again job by job (``write_one``), each in its own transaction, so a job that cannot be
written fails alone and the others are stored as they would have been.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from store.db import session_scope

J = TypeVar("J")
R = TypeVar("R")

logger = logging.getLogger(__name__)

# A batch this large is some 2,000 bound values: far below SQLite's limit of 32,766.
MAX_BATCH = 64
# How long a caller waits for its write before giving up with TimeoutError (an
# activity retried then writes again, which every projection write allows).
WRITE_TIMEOUT_SECONDS = 60.0


class GroupWriter(Generic[J, R]):
    """One writer thread for one database, fed by any number of caller threads."""

    def __init__(
        self,
        database_url: str,
        *,
        write_batch: Callable[[Session, Sequence[J]], list[R]],
        write_one: Callable[[Session, J], R],
        name: str,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._database_url = database_url
        self._write_batch = write_batch
        self._write_one = write_one
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[tuple[J, Future[R]]] = queue.SimpleQueue()
        # A daemon: it holds no transaction between batches, and callers that still
        # wait for it at exit are activities the worker is already abandoning.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def write(self, job: J) -> R:
        """Write ``job`` with whatever else is waiting; its result, or its error."""
        done: Future[R] = Future()
        self._jobs.put((job, done))
        return done.result(timeout=WRITE_TIMEOUT_SECONDS)

    def _serve(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except BaseException as err:  # never leave a caller waiting on a dead thread
                for _, done in batch:
                    if not done.done():
                        done.set_exception(err)
                raise

    def _write(self, batch: list[tuple[J, Future[R]]]) -> None:
        if len(batch) > 1:
            try:
                with session_scope(self._database_url, write=True) as session:
                    results = self._write_batch(session, [job for job, _ in batch])
            except Exception:
                logger.warning("A batch of %d writes failed; writing each alone", len(batch))
            else:
                for (_, done), result in zip(batch, results, strict=True):
                    done.set_result(result)
                return
        for job, done in batch:
            try:
                with session_scope(self._database_url, write=True) as session:
                    result = self._write_one(session, job)
            except Exception as err:  # the caller's error, raised in its own thread
                done.set_exception(err)
            else:
                done.set_result(result)


# Keyed by name and URL; each writer's job and result types are its caller's.
_writers: dict[tuple[str, str], Any] = {}
_writers_lock = threading.Lock()


def group_writer(
    database_url: str,
    *,
    name: str,
    write_batch: Callable[[Session, Sequence[J]], list[R]],
    write_one: Callable[[Session, J], R],
) -> GroupWriter[J, R]:
    """The process's writer called ``name`` for ``database_url``, started once."""
    key = (name, database_url)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            writer = GroupWriter(
                database_url, write_batch=write_batch, write_one=write_one, name=name
            )
            _writers[key] = writer
    return writer
