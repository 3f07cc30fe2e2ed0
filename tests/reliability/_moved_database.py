"""Moving a database between two PostgreSQL clusters the way an operator does.

``pg_dump --format=custom`` from one cluster, ``pg_restore`` into a fresh database on another,
with the programs from ``pg_config --bindir``. Databases are registered as Django aliases at
runtime, and the old cluster's transaction counter can be pushed ahead, as on a server that has
been running for a while.
"""

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.db import connections
from eventhex_devtools.postgres import ThrowawayPostgres

__all__ = ["burn_transaction_ids", "create_database", "dump", "registered", "restore"]

_BURN = """
CREATE OR REPLACE PROCEDURE eventhex_test_burn(n integer) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        PERFORM pg_current_xact_id();
        COMMIT;
    END LOOP;
END;
$$
"""


def create_database(cluster: ThrowawayPostgres, name: str) -> None:
    """Create the empty database ``name`` on ``cluster``."""
    with psycopg.connect(**cluster.server.conninfo(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def burn_transaction_ids(cluster: ThrowawayPostgres, count: int) -> int:
    """Use up ``count`` transaction ids on ``cluster``, one committed transaction each.

    Returns:
        The cluster's next transaction id afterwards.
    """
    with psycopg.connect(**cluster.server.conninfo(), autocommit=True) as connection:
        connection.execute(_BURN)
        connection.execute("CALL eventhex_test_burn(%s)", [count])
        connection.execute("DROP PROCEDURE eventhex_test_burn(integer)")
        row = connection.execute(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ).fetchone()
    assert row is not None
    return int(row[0])


def dump(cluster: ThrowawayPostgres, database: str, path: Path) -> None:
    """``pg_dump --format=custom`` of ``database`` into ``path``."""
    _run(cluster, "pg_dump", "--format=custom", f"--file={path}", cluster.server.dsn(database))


def restore(cluster: ThrowawayPostgres, path: Path, database: str) -> None:
    """Create ``database`` on ``cluster`` and ``pg_restore`` the dump at ``path`` into it."""
    create_database(cluster, database)
    target = f"--dbname={cluster.server.dsn(database)}"
    _run(cluster, "pg_restore", "--exit-on-error", target, str(path))


@contextmanager
def registered(alias: str, cluster: ThrowawayPostgres, database: str) -> Iterator[str]:
    """Make ``database`` on ``cluster`` the Django database ``alias`` while the block runs."""
    server = cluster.server
    raw = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "HOST": server.host,
        "PORT": str(server.port),
        "USER": server.user,
    }
    connections.settings[alias] = connections.configure_settings({"default": {}, alias: raw})[alias]
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]  # this thread's wrapper would keep the settings of this database
        del connections.settings[alias]


def _run(cluster: ThrowawayPostgres, program: str, *args: str) -> None:
    done = subprocess.run(
        [str(cluster.bindir / program), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{program} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
