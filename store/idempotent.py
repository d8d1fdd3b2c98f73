"""Insert-once: the primitive every projection write is built on.

A retried activity writes the same row again; the row's natural primary key turns
the second write into a no-op instead of a duplicate or an error. One statement
(``INSERT ... ON CONFLICT DO NOTHING``) on SQLite and PostgreSQL, so two attempts
racing each other cannot both insert.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

# Keep the row count of INSERTs too (by default SQLAlchemy only keeps it for UPDATE
# and DELETE, and psycopg reports -1 once the cursor is closed).
ROWCOUNT: dict[str, Any] = {"preserve_rowcount": True}


def table_of(model: type[SQLModel]) -> Table:
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


# The two dialects whose INSERT has ON CONFLICT (DO NOTHING, DO UPDATE ... RETURNING).
UPSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


@functools.lru_cache(maxsize=128)
def cached_statement(dialect: str, table: Table, build: Callable[[Any], Any]) -> Any:
    """``build(insert)`` for the dialect's ON CONFLICT INSERT into ``table``, made once.

    A statement is executed with its rows as parameters (an executemany, which
    SQLAlchemy sends as multi-row INSERTs), never with the rows baked into it: one
    built with ``.values(rows)`` is a new statement for every batch size, compiled
    again on each write, and that compiling was the largest part of the register's
    CPU under load (``bench/README.md``). ``build`` must be a module-level function
    (it is part of the cache key).
    """
    return build(UPSERTS[dialect](table))


def execute_cached(
    session: Session,
    dialect: str,
    table: Table,
    build: Callable[[Any], Any],
    rows: list[dict[str, Any]],
    *,
    keep_rowcount: bool = False,
) -> Any:
    """Run ``cached_statement`` for the session's ``dialect`` (one of ``UPSERTS``, which
    the caller has checked) with ``rows`` as its parameters; the cursor result."""
    statement = cached_statement(dialect, table, build)
    parameters: Any = rows[0] if len(rows) == 1 else rows
    options = ROWCOUNT if keep_rowcount else {}
    return session.connection().execute(statement, parameters, execution_options=options)


def row_values(row: SQLModel) -> dict[str, Any]:
    """The row's column values, keyed by column name."""
    return {column.name: getattr(row, column.name) for column in table_of(type(row)).columns}


def _do_nothing_on_conflict(insert: Any) -> Any:
    keys = [column.name for column in insert.table.primary_key.columns]
    return insert.on_conflict_do_nothing(index_elements=keys)


def insert_values_once(session: Session, table: Table, values: list[dict[str, Any]]) -> int:
    """Insert the rows (column values, all with the same columns) whose primary keys
    are not stored yet, in one statement on SQLite and PostgreSQL; returns how many
    were inserted. Plain values: the hot paths skip building model objects only to
    read them back.

    One statement, not one a row: under load every statement is a wait for the
    interpreter lock and, on SQLite, time the file's write lock is held longer.
    """
    if not values:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect in UPSERTS:
        result = execute_cached(
            session, dialect, table, _do_nothing_on_conflict, values, keep_rowcount=True
        )
        return int(result.rowcount)
    return sum(_insert_in_savepoint(session, table, row) for row in values)


def insert_once(session: Session, row: SQLModel) -> bool:
    """Insert ``row`` unless a row with its primary key exists; ``True`` if inserted."""
    return insert_values_once(session, table_of(type(row)), [row_values(row)]) == 1


def _insert_in_savepoint(session: Session, table: Table, values: dict[str, Any]) -> bool:
    # Other databases: a savepoint, so a duplicate leaves the outer transaction intact.
    try:
        with session.begin_nested():
            session.exec(table.insert().values(values))
    except IntegrityError:
        return False
    return True
