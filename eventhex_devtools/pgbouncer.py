"""A throw-away PgBouncer in front of a test PostgreSQL server, in transaction pooling.

Debian's ``pgbouncer`` package (1.18 on bookworm) with its defaults except what a test needs:
``pool_mode = transaction``, a small ``default_pool_size``, trust authentication, a free local
port, and its files in a temporary directory. 1.18 has no ``max_prepared_statements``: a
prepared statement lives on whichever server connection the client's transaction landed on,
which is what the adapter must survive. A root test session on Debian installs the package
itself (``eventhex_devtools.debian``); PgBouncer refuses to run as root, so it then runs as the
``postgres`` user. It is stopped by the pid it wrote.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from eventhex_devtools.debian import NotInstalled, ensure_debian_packages
from eventhex_devtools.postgres import PostgresServer, _as_postgres, _free_port

__all__ = ["ThrowawayPgBouncer", "pgbouncer_program"]

_PROGRAM = "pgbouncer"
_SBIN = "/usr/sbin:/sbin"


def pgbouncer_program() -> str:
    """The ``pgbouncer`` program, installed from Debian first when this process may.

    Raises:
        NotInstalled: Missing, and this process cannot install it (the message says how).
    """
    ensure_debian_packages(
        [_PROGRAM],
        installed=lambda: _found() is not None,
        stop=[["service", "pgbouncer", "stop"]],  # Debian starts one on install
    )
    found = _found()
    if found is None:
        raise NotInstalled("pgbouncer was installed but the program is still missing")
    return found


def _found() -> str | None:
    return shutil.which(_PROGRAM) or shutil.which(_PROGRAM, path=_SBIN)


class ThrowawayPgBouncer:
    """PgBouncer listening on a free local port, pooling every database of ``server``.

    Args:
        server: The PostgreSQL server behind it (it must trust local TCP connections).
        pool_mode: ``transaction`` (the default here, and the most common in production),
            ``session`` or ``statement``.
        default_pool_size: Server connections per database and user.
    """

    def __init__(
        self, server: PostgresServer, pool_mode: str = "transaction", default_pool_size: int = 2
    ) -> None:
        self.server = server
        self.workdir = Path(tempfile.mkdtemp(prefix="eventhex-pgbouncer-"))
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.log = self.workdir / "pgbouncer.log"
        self._pidfile = self.workdir / "pgbouncer.pid"
        self._ini = self.workdir / "pgbouncer.ini"
        (self.workdir / "userlist.txt").write_text(f'"{server.user}" ""\n')
        self._ini.write_text(
            "[databases]\n"
            f"* = host={server.host} port={server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.host}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.workdir / 'userlist.txt'}\n"
            f"pool_mode = {pool_mode}\n"
            f"default_pool_size = {default_pool_size}\n"
            "max_client_conn = 500\n"
            f"logfile = {self.log}\n"
            f"pidfile = {self._pidfile}\n"
            f"admin_users = {server.user}\n"
        )
        if os.geteuid() == 0:
            for path in (self.workdir, *self.workdir.iterdir()):
                shutil.chown(path, "postgres", "postgres")

    def start(self) -> ThrowawayPgBouncer:
        """Start PgBouncer in the background and wait until it accepts connections."""
        command = _as_postgres([pgbouncer_program(), "-d", str(self._ini)])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"pgbouncer failed to start ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{self._log_text()}"
            )
        deadline = time.monotonic() + 30
        while not _accepts(self.host, self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not listen within 30 s:\n{self._log_text()}")
            time.sleep(0.05)
        return self

    def close(self) -> None:
        """Stop PgBouncer (by the pid it wrote), wait until PostgreSQL has ended its server
        sessions (so the test database can be dropped), and delete its files."""
        backends = self._server_pids()
        try:
            pid = int(self._pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait(lambda: not _alive(pid))
        if backends:
            _wait(lambda: not self._still_running(backends))
        shutil.rmtree(self.workdir, ignore_errors=True)

    def drop_server_connections(self, dbname: str) -> None:
        """Close PgBouncer's server connections to ``dbname`` now (``KILL``, then ``RESUME``)
        and wait until PostgreSQL has ended them, so that the database can be dropped."""
        backends = self._server_pids()
        self._admin(f'KILL "{dbname}"', f'RESUME "{dbname}"')
        if backends:
            _wait(lambda: not self._still_running(backends))

    def _admin(self, *commands: str) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        """Run commands on PgBouncer's admin console; each one's column names and rows."""
        import psycopg

        results = []
        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.server.user,
            dbname="pgbouncer",
            autocommit=True,
            prepare_threshold=None,
        ) as admin:
            for command in commands:
                cursor = admin.cursor()
                cursor.execute(command)
                names = [column.name for column in cursor.description or ()]
                results.append((names, cursor.fetchall() if names else []))
        return results

    def _server_pids(self) -> list[int]:
        """The PostgreSQL backends of PgBouncer's server connections (its ``SHOW SERVERS``)."""
        import psycopg

        try:
            [(names, rows)] = self._admin("SHOW SERVERS")
        except psycopg.Error:
            return []
        if "remote_pid" not in names:
            return []
        at = names.index("remote_pid")
        return [int(row[at]) for row in rows if row[at]]

    def _still_running(self, backends: list[int]) -> bool:
        import psycopg

        with psycopg.connect(self.server.dsn(), autocommit=True) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [backends]
            ).fetchone()
        return bool(row and row[0])

    def __enter__(self) -> ThrowawayPgBouncer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else "(no log)"


def _wait(done: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
