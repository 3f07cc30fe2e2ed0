"""Databases for the demo: a fresh SQLite file, or a throwaway PostgreSQL server."""

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresUnavailable", "sqlite_url", "throwaway_postgres"]


class PostgresUnavailable(Exception):
    """The PostgreSQL binaries are missing or the server did not start."""


def sqlite_url(directory: Path) -> str:
    """The URL of a new SQLite database file in ``directory``."""
    return f"sqlite:///{directory / 'ledger.sqlite3'}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and pg_ctl refuse to run as root.
    if os.geteuid() != 0:
        return command
    # runuser lives in /usr/sbin, which a root PATH may lack.
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    return [runuser or "runuser", "-u", "postgres", "--", *command]


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    try:
        done = subprocess.run(_as_postgres(command), capture_output=True, text=True, check=False)
    except OSError as error:
        raise PostgresUnavailable(f"cannot run {command[0]}: {error}") from error
    if done.returncode != 0:
        detail = log.read_text() if log and log.exists() else ""
        raise PostgresUnavailable(f"{what} failed:\n{done.stdout}{done.stderr}{detail}")


def _bindir() -> Path:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise PostgresUnavailable(
            "pg_config not found: install PostgreSQL 13+ (Debian: postgresql) "
            "or pass a server with EVENTHEX_DEMO_DATABASE_URL"
        ) from error
    return Path(out.stdout.strip())


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a private PostgreSQL server on a free port; yield the URL of its ``ledger`` db.

    The server runs from a temporary directory, trusts local connections only, and is stopped
    and deleted on exit.
    """
    bindir = _bindir()
    workdir = Path(tempfile.mkdtemp(prefix="eventhex-demo-pg-"))
    datadir, log = workdir / "data", workdir / "server.log"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    port = _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust"]
    _run([*initdb, "-E", "UTF8", "--no-sync"], "initdb")
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={workdir} "
        "-c fsync=off -c synchronous_commit=off"
    )
    pg_ctl = str(bindir / "pg_ctl")
    try:
        _run(
            [pg_ctl, "-D", str(datadir), "-l", str(log), "-o", options, "-w", "start"], "start", log
        )
        _run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "ledger",
            ],
            "createdb",
            log,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/ledger"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(datadir), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(workdir, ignore_errors=True)
