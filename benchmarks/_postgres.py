"""A throw-away PostgreSQL server for one benchmark run, and fresh databases on it.

``initdb`` and ``pg_ctl`` refuse to run as root, so they run as the ``postgres`` user through
``runuser`` when the benchmark runs as root. The cluster lives in a temporary directory, listens
on a free local port with trust authentication, and is removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg


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


def _bindir() -> Path:
    out = subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningPostgres:
    """Context manager: ``initdb`` a temporary cluster, start it, stop and delete it on exit.

    The settings favour repeatable numbers over durability (``fsync=off``,
    ``synchronous_commit=off``), the same for every contender.
    """

    def __init__(self) -> None:
        self._bindir = _bindir()
        self._workdir = Path(tempfile.mkdtemp(prefix="eventhex-bench-pg-"))
        self._datadir = self._workdir / "data"
        self._log = self._workdir / "server.log"

    def _run(self, command: list[str], what: str) -> None:
        result = subprocess.run(_as_postgres(command), capture_output=True, text=True)
        if result.returncode != 0:
            log = self._log.read_text() if self._log.exists() else ""
            raise RuntimeError(f"PostgreSQL {what} failed:\n{result.stderr}\n{log}")

    def __enter__(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self._workdir, "postgres", "postgres")
        port = _free_port()
        self._run(
            [
                str(self._bindir / "initdb"),
                "-D",
                str(self._datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            "initdb",
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self._workdir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            [
                str(self._bindir / "pg_ctl"),
                "-D",
                str(self._datadir),
                "-l",
                str(self._log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            "start",
        )
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
        ) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        version = str(row[0]) if row else "?"
        return PostgresServer(host="127.0.0.1", port=port, user="postgres", version=version)

    def __exit__(self, *exc: object) -> None:
        subprocess.run(
            _as_postgres(
                [str(self._bindir / "pg_ctl"), "-D", str(self._datadir), "-m", "fast", "stop"]
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self._workdir, ignore_errors=True)
