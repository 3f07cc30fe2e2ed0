"""Shared test infrastructure for the whole eventhex suite.

Django is configured for every test run by ``DJANGO_SETTINGS_MODULE`` in the root
``pyproject.toml`` (``tests.django_adapter.settings``); tests that never touch a database are
unaffected.

Fixtures for everyone:

``postgresql_server`` (session)
    A real PostgreSQL server that this test session starts on a free port (``initdb`` and
    ``pg_ctl`` from ``pg_config --bindir``, run as the ``postgres`` user when the session runs as
    root) and stops at the end. It is started only when a test asks for it, directly or through
    ``@pytest.mark.django_db(databases=["postgres"])``. If it cannot start, the tests that need
    it fail with the server's log; they never skip (``eventhex_devtools.postgres`` does the
    work, shared with the benchmarks). The value is a :class:`PostgresServer`:
    ``host``, ``port``, ``user``, ``dsn(dbname)`` and ``conninfo(dbname)`` (keyword arguments for
    ``psycopg.connect``).

``pgbouncer`` (session)
    PgBouncer in transaction pooling (``default_pool_size = 2``, Debian's 1.18 otherwise as
    shipped) in front of ``postgresql_server`` (``eventhex_devtools.pgbouncer``): ``host`` and
    ``port`` reach every database of the server through it.

``postgresql_dsn`` (session)
    The libpq URI of the Django test database on that server (``test_eventhex``, created by
    pytest-django's ``django_db_setup``), for tests that open their own psycopg connections, for
    example to LISTEN or to hold a transaction open while Django writes.

Django databases: ``default`` is a SQLite file in a session temporary directory (so several
processes can open it) and ``postgres`` is the test database on ``postgresql_server``. Mark tests
with ``@pytest.mark.django_db(databases=["default"])`` or ``databases=["postgres"]``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import pytest
from eventhex_devtools.pgbouncer import ThrowawayPgBouncer
from eventhex_devtools.postgres import PostgresServer, ThrowawayPostgres

POSTGRES_ALIAS = "postgres"
PGBOUNCER_ALIAS = "pgbouncer"


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    """Start a throw-away PostgreSQL server for the session (see the module docstring)."""
    cluster = ThrowawayPostgres()
    _interrupt_on_sigterm()
    try:
        yield cluster.start()
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def pgbouncer(postgresql_server: PostgresServer) -> Iterator[ThrowawayPgBouncer]:
    """PgBouncer (Debian's, installed on first use by a root session) in front of the session
    server, in transaction pooling with two server connections per database (see the module
    docstring)."""
    bouncer = ThrowawayPgBouncer(postgresql_server, pool_mode="transaction", default_pool_size=2)
    try:
        yield bouncer.start()
    finally:
        bouncer.close()


def _interrupt_on_sigterm() -> None:
    """Make SIGTERM stop the session like Ctrl-C, so the server is still shut down."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not in the main thread: leave it alone
            signal.signal(signal.SIGTERM, signal.default_int_handler)


def _needs_postgres(items: list[pytest.Item]) -> bool:
    for item in items:
        marker = item.get_closest_marker("django_db")
        databases = marker.kwargs.get("databases") if marker else None
        if databases == "__all__" or (databases and POSTGRES_ALIAS in databases):
            return True
        if "postgresql_dsn" in getattr(item, "fixturenames", ()):
            return True
    return False


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    django_db_modify_db_settings_parallel_suffix: None,
) -> None:
    """Point ``default`` at a SQLite file and ``postgres`` at the session server.

    Each pytest-xdist worker gets its own SQLite file and starts its own PostgreSQL server.
    """
    from django.db import connections

    sqlite = connections["default"].settings_dict
    sqlite["TEST"]["NAME"] = str(tmp_path_factory.mktemp("sqlite") / "eventhex.sqlite3")
    if _needs_postgres(request.session.items):
        server: PostgresServer = request.getfixturevalue("postgresql_server")
        for alias in (POSTGRES_ALIAS, PGBOUNCER_ALIAS):  # the PgBouncer tests repoint the last
            postgres = connections[alias].settings_dict
            postgres.update(HOST=server.host, PORT=str(server.port), USER=server.user)


@pytest.fixture
def postgresql_dsn(postgresql_server: PostgresServer, django_db_setup: None) -> str:
    """The URI of the Django test database on the session server (see the module docstring).

    Use it in tests marked ``django_db(databases=["postgres"])`` (add ``transaction=True`` when
    the psycopg connection must see what Django commits).
    """
    from django.db import connections

    return postgresql_server.dsn(connections[POSTGRES_ALIAS].settings_dict["NAME"])
