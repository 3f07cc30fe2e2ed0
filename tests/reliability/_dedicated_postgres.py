"""A PostgreSQL server of one test's own, which the test may restart or crash at will.

It reuses the session helpers of ``tests/conftest.py`` (binaries from ``pg_config``, run as the
``postgres`` user when root) but keeps ``synchronous_commit`` on, so a crash loses nothing that
was acknowledged, and registers a Django alias for it at runtime.
"""

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import connections

from tests.conftest import _as_postgres, _free_port, _pg_bindir, _run

__all__ = ["DedicatedPostgres", "dedicated_postgres"]


@dataclass
class DedicatedPostgres:
    """A running server: where it listens, and how to restart it."""

    datadir: Path
    log: Path
    port: int
    options: str

    def _ctl(self, *args: str) -> None:
        bindir = _pg_bindir()
        _run(
            [str(bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log), *args],
            " ".join(args),
            self.log,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._ctl("-o", self.options, "-w", "-t", "60", "start")

    def crash_and_restart(self) -> None:
        """Stop it like a crash (``-m immediate``: no checkpoint, recovery on start), restart."""
        self._ctl("-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        subprocess.run(
            _as_postgres(
                [str(_pg_bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
            ),
            capture_output=True,
            check=False,
        )


@contextmanager
def dedicated_postgres(alias: str) -> Iterator[DedicatedPostgres]:
    """Start a server, register ``alias`` for its ``postgres`` database, clean up after."""
    workdir = Path(tempfile.mkdtemp(prefix="eventhex-restart-"))
    shutil.chown(workdir, "postgres", "postgres") if _is_root() else None
    datadir, log = workdir / "data", workdir / "server.log"
    _run(
        [
            str(_pg_bindir() / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        "initdb",
    )
    port = _free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={workdir} "
        "-c fsync=off -c synchronous_commit=on -c max_connections=50"
    )
    server = DedicatedPostgres(datadir, log, port, options)
    server.start()
    raw = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USER": "postgres",
    }
    configured = connections.configure_settings({"default": {}, alias: raw})[alias]
    connections.settings[alias] = configured
    try:
        yield server
    finally:
        connections[alias].close()
        del connections.settings[alias]
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _is_root() -> bool:
    import os

    return os.geteuid() == 0
