"""A throw-away PostgreSQL server for one benchmark run, and fresh databases on it.

The cluster is ``eventhex_devtools.postgres.ThrowawayPostgres`` (shared with the test suite): a
temporary directory, a free local port, trust authentication, removed when the run ends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
from eventhex_devtools.postgres import ThrowawayPostgres


@dataclass(frozen=True)
class PostgresServer:
    """Where the benchmark's PostgreSQL listens."""

    host: str
    port: int
    user: str
    version: str

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq URI for ``dbname``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, prefix: str = "bench") -> str:
        """Create an empty database with a unique name and return the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected."""
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RunningPostgres:
    """Context manager: a throw-away cluster tuned for repeatable numbers over durability.

    ``fsync``, ``synchronous_commit`` and ``full_page_writes`` are off, the same for every
    contender (see ``eventhex_devtools.postgres``).
    """

    def __init__(self) -> None:
        self._cluster = ThrowawayPostgres(prefix="eventhex-bench-pg-")

    def __enter__(self) -> PostgresServer:
        started = self._cluster.start()
        with psycopg.connect(started.dsn(), autocommit=True) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        version = str(row[0]) if row else "?"
        return PostgresServer(started.host, started.port, started.user, version)

    def __exit__(self, *exc: object) -> None:
        self._cluster.close()
