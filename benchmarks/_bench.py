"""What every benchmark group runs with: the mode, the PostgreSQL server, the options, fresh
databases and measurements in their own processes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventhex_devtools.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: every process of a run works from here."""

Row = dict[str, Any]


@dataclass(frozen=True)
class Mode:
    """The conditions a run measures under.

    Attributes:
        name: ``headline`` or ``cpu``; results go to ``out/<name>/``.
        title: How the report names it.
        server_defaults: PostgreSQL with its own durability defaults (``fsync``,
            ``synchronous_commit``, ``full_page_writes`` on); otherwise all three off.
        atomic: Every write, and every stream load, is a unit of work in
            ``transaction.atomic()`` (a command handler, ``ATOMIC_REQUESTS``); the floor opens a
            transaction. Otherwise appends run in autocommit.
        django_options: ``DATABASES["default"]["OPTIONS"]`` on PostgreSQL.
        analyze: Whether a group may ``ANALYZE`` a table it filled before reading it.
        dbs: The databases this mode measures on.
    """

    name: str
    title: str
    server_defaults: bool
    atomic: bool
    django_options: dict[str, Any]
    analyze: bool
    dbs: tuple[str, ...]


MODES = {
    "headline": Mode(
        name="headline",
        title="users' conditions: durable PostgreSQL with its default settings, every unit of "
        "work in transaction.atomic(), Django's default connection OPTIONS, no ANALYZE "
        "between writing and reading",
        server_defaults=True,
        atomic=True,
        django_options={},
        analyze=False,
        dbs=("postgres",),
    ),
    "cpu": Mode(
        name="cpu",
        title="PostgreSQL with fsync, synchronous_commit and full_page_writes off, appends in "
        "autocommit, prepare_threshold 5 in Django's OPTIONS (SQLite: synchronous=OFF)",
        server_defaults=False,
        atomic=False,
        django_options={"prepare_threshold": 5},
        analyze=True,
        dbs=("postgres", "sqlite"),
    ),
}
"""The two modes: README's table comes from ``headline``."""


@dataclass(frozen=True)
class Options:
    """How a run repeats and sizes its measurements.

    Attributes:
        reps: Repetitions of each measurement (a scenario may ask for fewer).
        sqlite_reps: At most this many repetitions on SQLite.
        dbs: The databases to measure on (``postgres``, ``sqlite``).
        scale: Factor on every scenario's size; only runs at 1 are comparable.
        mode: The conditions (see :data:`MODES`).
    """

    reps: int = 3
    sqlite_reps: int = 2
    dbs: tuple[str, ...] = ("postgres", "sqlite")
    scale: float = 1.0
    mode: Mode = MODES["headline"]


class Bench:
    """The server and options of one run, and how a group measures on them.

    Args:
        server: The run's throw-away PostgreSQL.
        options: Repetitions, databases and scale.
    """

    def __init__(self, server: PostgresServer, options: Options) -> None:
        self.server = server
        self.options = options
        self._sqlite_dir = Path(tempfile.mkdtemp(prefix="eventhex-bench-sqlite-"))
        self._sqlite_files = 0

    def size(self, n: int) -> int:
        """``n`` events or operations, scaled by ``options.scale`` (at least 1)."""
        return max(1, round(n * self.options.scale))

    @contextmanager
    def postgres_database(self, prefix: str = "bench") -> Iterator[str]:
        """A new, empty PostgreSQL database, dropped afterwards; yields its libpq URI."""
        name = self.server.create_database(prefix)
        try:
            yield self.server.dsn(name)
        finally:
            self.server.drop_database(name)

    @contextmanager
    def sqlite_file(self) -> Iterator[str]:
        """A new SQLite file path, deleted afterwards."""
        self._sqlite_files += 1
        path = self._sqlite_dir / f"bench-{self._sqlite_files}.sqlite3"
        try:
            yield str(path)
        finally:
            for leftover in self._sqlite_dir.glob(f"{path.name}*"):
                leftover.unlink()

    @property
    def dbs(self) -> list[str]:
        """The databases this run measures on: asked for, and in the mode."""
        return [db for db in self.options.dbs if db in self.options.mode.dbs]

    def measure(self, spec: dict[str, Any], prefix: str = "bench", timeout: float = 1800) -> Row:
        """Run ``spec`` in a worker process on a fresh database of ``spec["db"]``, in the
        run's mode."""
        fresh = self.postgres_database(prefix) if spec["db"] == "postgres" else self.sqlite_file()
        with fresh as target:
            return run_worker(spec | {"target": target, "mode": self.options.mode.name}, timeout)


def run_worker(spec: dict[str, Any], timeout: float = 1800) -> Row:
    """One measurement in its own process (:mod:`benchmarks.worker`); a failure becomes a row
    with ``error``."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    row = {k: spec[k] for k in ("impl", "db", "scenario", "n", "mode")}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(
            f"  ! {spec['impl']} {spec['scenario']} on {spec['db']} failed: {tail[0]}",
            file=sys.stderr,
        )
        return row | {"error": done.stderr[-4000:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return row | result | {"wall_s": round(time.perf_counter() - started, 2)}


def standalone(
    argv: list[str] | None,
    name: str,
    measure: Callable[[str, int], dict[str, Any]],
    events: int,
    out: Path,
) -> dict[str, Any]:
    """``python -m benchmarks.NAME [--events N] [--dsn DSN]``: ``measure(dsn, events)`` on
    ``--dsn``, or on a PostgreSQL of its own with the server's default (durable) settings, as
    users run it; the result is written to ``out`` as JSON and returned."""
    import argparse

    from eventhex_devtools.postgres import ThrowawayPostgres

    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--dsn", help="an empty database to use (default: start a server)")
    args = parser.parse_args(argv)
    if args.dsn:
        result = measure(args.dsn, args.events)
    else:
        with ThrowawayPostgres(prefix=f"eventhex-bench-{name}-", server_defaults=True) as server:
            result = measure(server.dsn(server.create_database(name)), args.events)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
