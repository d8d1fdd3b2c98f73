"""Engines and sessions for the register, one engine per database URL.

The URL comes from ``DATABASE_URL`` (``Settings.database_url``): a SQLite file by
default, PostgreSQL through psycopg 3 in production. On SQLite every connection runs
in WAL mode with a busy timeout, so the worker's activity threads and the API can
share one file; write transactions take the write lock up front (``BEGIN
IMMEDIATE``) so two writers queue instead of failing half-way.

Within one process, SQLite writers also queue on a lock of the engine's before they
begin: SQLite's own busy handler polls with sleeps of up to 100 ms, so under load a
waiter slept on while the file was free again, and a 5 ms write took half a second
(measured in ``bench/``). A thread waiting on a Python lock wakes as soon as the
writer ahead of it commits; other processes still queue on the busy handler.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlmodel import Session

from settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option naming how a SQLite transaction begins (DEFERRED or IMMEDIATE).
SQLITE_BEGIN = "case_sqlite_begin"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
# One lock per SQLite engine that its write transactions hold from BEGIN to COMMIT.
# Reentrant, so a write nested in another on the same thread fails on SQLite's busy
# timeout as it did before instead of hanging on this lock.
_writer_locks: dict[int, threading.RLock] = {}


def normalise_database_url(database_url: str) -> URL:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs (the driver this
    project installs); leave every other URL as it is."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN, not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE"):
            raise ValueError(f"unknown SQLite begin mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")


def get_engine(database_url: str | None = None) -> Engine:
    """The engine for ``database_url`` (default: the settings' URL), created once."""
    url = normalise_database_url(database_url or get_settings().database_url)
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        if url.get_backend_name() == "sqlite":
            path = _sqlite_file(url)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                url,
                connect_args={
                    "check_same_thread": False,
                    "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                },
            )
            _configure_sqlite(engine)
            _writer_locks[id(engine)] = threading.RLock()
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[key] = engine
        return engine


def dispose_engine(database_url: str) -> None:
    """Close the pooled connections of one URL and forget its engine."""
    key = normalise_database_url(database_url).render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.pop(key, None)
        if engine is not None:
            _writer_locks.pop(id(engine), None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close every pooled connection (process shutdown, test teardown)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
        _writer_locks.clear()
    for engine in engines:
        engine.dispose()


@contextmanager
def session_scope(database_url: str | None = None, *, write: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises.

    ``write=True`` takes SQLite's write lock at the start of the transaction, so a
    read-then-write transaction never has to be abandoned half-way because another
    writer got in first; other databases ignore it.
    """
    engine = get_engine(database_url)
    options = {SQLITE_BEGIN: "IMMEDIATE"} if write else {}
    queue = _writer_locks.get(id(engine)) if write else None
    with queue or contextlib.nullcontext(), Session(engine, expire_on_commit=False) as session:
        if options:
            session.connection(execution_options=options)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
