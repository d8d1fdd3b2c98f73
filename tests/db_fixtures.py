"""Real databases for tests: a SQLite file and a PostgreSQL database, both migrated.

A pytest plugin (``pytest_plugins = ["tests.db_fixtures"]``). ``database_url`` runs a
test once on each: SQLite in a fresh file per test (a copy of one migrated at the
start of the session); PostgreSQL in one database per
test session, created under a unique name on the server named by
``CASE_TEST_POSTGRES_URL`` (default: the local server, role ``postgres``), emptied
before each test and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from settings import get_settings
from store.db import dispose_engine, get_engine, normalise_database_url
from store.migrate import upgrade_to_head

DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASES = ["sqlite", "postgresql"]


def postgres_admin_url() -> URL:
    """Where test databases are created (a maintenance database on the server)."""
    return normalise_database_url(
        os.environ.get("CASE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)
    )


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with ``None``, remove) environment variables and make
    ``get_settings()`` read them; both are restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}

    def apply(pairs: dict[str, str | None]) -> None:
        for name, value in pairs.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()

    apply(values)
    try:
        yield
    finally:
        apply(saved)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def empty_register(database_url: str) -> None:
    """Delete every row of every table but Alembic's (PostgreSQL: one TRUNCATE)."""
    engine = get_engine(database_url)
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    if not names:
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in names)
            connection.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
            return
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        for name in names:
            connection.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test session's own, dropped at the end."""
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"case_test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_to_head(url)
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy (faster than migrating)."""
    path = tmp_path_factory.mktemp("register") / "template.db"
    url = sqlite_url(path)
    upgrade_to_head(url)
    dispose_engine(url)  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty register: a fresh SQLite file, or the session's PostgreSQL
    database emptied for this test."""
    if request.param == "sqlite":
        path = tmp_path / "cases.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = sqlite_url(path)
        try:
            yield url
        finally:
            dispose_engine(url)
        return
    url = request.getfixturevalue("postgres_database_url")
    empty_register(url)
    yield url


@pytest.fixture
def database_env(database_url: str) -> Iterator[str]:
    """``database_url`` as the settings' ``DATABASE_URL``, for code that reads the
    settings (activities, the API)."""
    with environment(DATABASE_URL=database_url):
        yield database_url
