"""Alembic environment: runs on the connection ``store.migrate`` hands over.

``upgrade_to_head`` opens the connection, takes the migration lock (SQLite's write
lock, PostgreSQL's advisory lock) and starts the transaction; everything here runs
inside it, so two processes migrating at once take turns and the second finds the
schema at head. The command line (``alembic -x url=...``) is served too, for
generating the next revision by hand.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import store.people_tables  # (training, suggestions, improvement actions)
import store.regulatory_tables  # (the regulatory tables too)
import store.report_tables  # (the reports' tables too)
import store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from store.db import get_engine

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; later revisions need batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    with get_engine(url).connect() as fresh:
        _run(fresh)
        fresh.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them online")
run_migrations_online()
