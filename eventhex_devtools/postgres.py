"""A throw-away PostgreSQL cluster for the test suite and the benchmarks.

``initdb`` a temporary directory, start the server on a free local port with trust
authentication, stop it, delete it. The binaries come from ``pg_config --bindir``; ``initdb`` and
``pg_ctl`` refuse to run as root, so they run as the ``postgres`` user through ``runuser`` when
this process is root. Failures raise ``RuntimeError`` with the command's output and the server
log, so a test that needs the server fails with the reason instead of skipping.
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
from types import TracebackType
from typing import Any

__all__ = ["PostgresServer", "ThrowawayPostgres", "ThrowawayStandby"]


@dataclass(frozen=True)
class PostgresServer:
    """Where a server listens; it trusts local TCP connections."""

    host: str
    port: int
    user: str

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq URI for ``dbname`` on this server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` to ``dbname`` on this server."""
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname}

    def version(self) -> str:
        """The server's ``server_version``, e.g. ``15.18 (Debian 15.18-0+deb12u1)``."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def create_database(self, prefix: str = "db") -> str:
        """Create an empty database with a unique name starting with ``prefix``; returns it."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory, deleted by :meth:`close`.

    Args:
        prefix: Prefix of the temporary directory's name.
        durable: Keep ``synchronous_commit`` and ``full_page_writes`` on, so that a crash loses
            nothing that was acknowledged (``fsync`` stays off: the disk is not under test).
        max_connections: The server's ``max_connections``.
        server_defaults: Keep PostgreSQL's own defaults for ``fsync``, ``synchronous_commit``
            and ``full_page_writes`` (all on), as on a user's server: every commit waits for
            the disk. For measuring what users see (the benchmarks' headline mode); it
            overrides ``durable``.
    """

    def __init__(
        self,
        prefix: str = "eventhex-pg-",
        durable: bool = False,
        max_connections: int = 100,
        *,
        server_defaults: bool = False,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix=prefix))
        self.datadir = self.workdir / "data"
        self.log = self.workdir / "server.log"
        self.server = PostgresServer(host="127.0.0.1", port=_free_port(), user="postgres")
        self.server_defaults = server_defaults
        if server_defaults:
            relaxed = ""
        elif durable:
            relaxed = " -c fsync=off"
        else:
            relaxed = " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._options = (
            f"-p {self.server.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.workdir}{relaxed} "
            f"-c max_connections={max_connections}"
        )
        self._bindir = _bindir()
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")

    @property
    def bindir(self) -> Path:
        """The directory of the PostgreSQL programs (``pg_dump``, ``pg_restore``, ...)."""
        return self._bindir

    def start(self) -> PostgresServer:
        """Create the cluster on the first call, start the server, wait until it accepts."""
        if not self.datadir.exists():
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        self._pg_ctl("-o", self._options, "-w", "-t", "60", "start")
        return self.server

    def crash_and_restart(self) -> None:
        """Stop the server like a crash (no checkpoint, recovery on start), then start it."""
        self.crash()
        self.start()

    def crash(self) -> None:
        """Stop the server like a crash (no checkpoint) and leave it down."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop the server (fast shutdown); a server that is not running is left alone."""
        subprocess.run(
            _as_postgres(
                [str(self._bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
            ),
            capture_output=True,
            check=False,
        )

    def close(self) -> None:
        """Stop the server and delete the cluster."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.log), *args)

    def _run(self, program: str, *args: str) -> None:
        command = _as_postgres([str(self._bindir / program), *args])
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"PostgreSQL {program} {' '.join(args[-1:])} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log}"
            )


class ThrowawayStandby(ThrowawayPostgres):
    """A hot standby streaming from a running ``primary``, in a temporary directory.

    :meth:`start` copies the primary with ``pg_basebackup -R`` (which writes the
    ``standby.signal`` and ``primary_conninfo``) on its first call and starts the standby;
    :meth:`promote` makes it a primary. The primary needs nothing configured: ``initdb``'s
    defaults (``wal_level = replica``, replication trusted on loopback) let it stream.

    Args:
        primary: The running cluster to follow.
        prefix: Prefix of the temporary directory's name.
        synchronous: Make the primary wait for this standby at every commit
            (``synchronous_standby_names``), so that a commit it acknowledged survives a
            failover to the standby. The primary must then run with ``durable=True``.
    """

    def __init__(
        self,
        primary: ThrowawayPostgres,
        prefix: str = "eventhex-standby-",
        *,
        synchronous: bool = False,
    ) -> None:
        super().__init__(prefix, durable=True)
        self.primary = primary
        self.synchronous = synchronous

    def start(self) -> PostgresServer:
        """Copy the primary on the first call, start streaming, wait until it accepts reads."""
        if not self.datadir.exists():
            source = self.primary.server
            self._run(
                "pg_basebackup",
                "-D",
                str(self.datadir),
                "-h",
                source.host,
                "-p",
                str(source.port),
                "-U",
                source.user,
                "-X",
                "stream",
                "-R",
                "-c",
                "fast",
                "--no-sync",
            )
            if self.synchronous:
                self._set_on_primary("synchronous_standby_names", "'*'")
        self._pg_ctl("-o", f"{self._options} -c hot_standby=on", "-w", "-t", "60", "start")
        return self.server

    def promote(self) -> None:
        """End recovery: the standby becomes a primary that accepts writes."""
        self._pg_ctl("-w", "-t", "60", "promote")

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        """Block until the standby has replayed everything the primary has written so far."""
        import time

        import psycopg

        with psycopg.connect(self.primary.server.dsn(), autocommit=True) as primary:
            row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        target = row[0] if row else "0/0"
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.server.dsn(), autocommit=True) as standby:
            while True:
                replayed = standby.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
                ).fetchone()
                if replayed and replayed[0]:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the standby did not replay {target} in {timeout} s")
                time.sleep(0.01)

    def _set_on_primary(self, name: str, value: str) -> None:
        import psycopg

        with psycopg.connect(self.primary.server.dsn(), autocommit=True) as primary:
            primary.execute(f"ALTER SYSTEM SET {name} = {value}")
            primary.execute("SELECT pg_reload_conf()")


def _bindir() -> Path:
    try:
        output = subprocess.run(
            ["pg_config", "--bindir"], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(
            f"pg_config is not available to find PostgreSQL ({error}); install PostgreSQL "
            "(apt-get install postgresql) or put its bin directory on PATH"
        ) from error
    return Path(output.strip())


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    # runuser lives in /usr/sbin, which a root PATH may lack.
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    return [runuser or "runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
