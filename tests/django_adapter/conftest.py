"""Fixtures for the Django adapter tests: a configured backend per database, and databases
that ``migrate`` never ran on."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventhex_devtools.postgres import PostgresServer

from eventhex_django_adapter import DjangoBackend, DjangoConfig

from ._bare import database, postgres_settings

on_sqlite = pytest.mark.django_db(databases=["default"])
"""Mark a test or class to run on the SQLite database (inside a rolled-back transaction)."""

on_postgres = [pytest.mark.django_db(databases=["postgres"]), pytest.mark.postgres]
"""Marks for a test or class on the session's PostgreSQL (inside a rolled-back transaction)."""


def backend_on(alias: str, **config: object) -> DjangoBackend:
    """A configured backend that stores in ``alias``."""
    return DjangoBackend().configure(DjangoConfig(database=alias, **config))  # type: ignore[arg-type]


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def alias(request: pytest.FixtureRequest) -> str:
    """Each database alias in turn; use with ``@pytest.mark.django_db(databases="__all__")``."""
    return str(request.param)


@pytest.fixture
def make_backend(alias: str) -> Callable[..., DjangoBackend]:
    """Builds configured backends on the current ``alias``."""
    return lambda **config: backend_on(alias, **config)


@pytest.fixture
def bare_sqlite(tmp_path: Path, django_db_blocker: Any) -> Iterator[str]:
    """A SQLite database that does not exist yet: nothing migrated."""
    raw = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "bare.sqlite3")}
    with django_db_blocker.unblock(), database("bare_sqlite", raw) as alias:
        yield alias


@pytest.fixture
def bare_postgres(postgresql_server: PostgresServer, django_db_blocker: Any) -> Iterator[str]:
    """An empty PostgreSQL database: nothing migrated."""
    name = f"eventhex_bare_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**postgresql_server.conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with (
            django_db_blocker.unblock(),
            database("bare_postgres", postgres_settings(postgresql_server, name)) as alias,
        ):
            yield alias
    finally:
        with psycopg.connect(**postgresql_server.conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["bare_sqlite", pytest.param("bare_postgres", marks=pytest.mark.postgres)])
def bare(request: pytest.FixtureRequest) -> str:
    """Each unmigrated database in turn."""
    return str(request.getfixturevalue(request.param))
