"""The benchmark runner: ``python -m benchmarks GROUP [options]`` (``hatch run bench:GROUP``).

Groups: ``append``, ``load``, ``catchup``, ``latency``, ``outbox``, ``floor``, ``memory``,
``profile`` and ``all`` (every group). The runner starts its own PostgreSQL, gives every
measurement a fresh database (PostgreSQL) or file (SQLite), runs eventhex, python-event-sourcery
0.6.1 and the psycopg floor side by side in separate processes, repeats, takes medians, prints
the table, and writes ``out/<group>.jsonl`` and ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _report
from benchmarks._postgres import PostgresServer, RunningPostgres

ROOT = Path(__file__).resolve().parent.parent

# (scenario, events or operations, repetitions or None for the default)
GROUPS: dict[str, list[tuple[str, int, int | None]]] = {
    "append": [
        ("append_single", 300, None),
        ("append_batch10", 60, None),
        ("append_versioned", 300, None),
    ],
    "load": [("load_1000", 1000, None)],
    "catchup": [("catchup", 20000, 2)],
    "outbox": [("outbox_drain", 1000, None)],
    "latency": [("latency_iter", 200, 1), ("latency_batch", 200, 1)],
    "floor": [("floor_executemany", 5000, None), ("floor_copy", 20000, None)],
}
IMPLS = ("eventhex", "upstream")
ORDER = (
    "append",
    "load",
    "catchup",
    "outbox",
    "latency",
    "floor",
    "memory",
    "profile",
)


def _worker(spec: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    row = {k: spec[k] for k in ("impl", "db", "scenario", "n")}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(
            f"  ! {spec['impl']} {spec['scenario']} on {spec['db']} failed: {tail[0]}",
            file=sys.stderr,
        )
        return row | {"error": done.stderr[-4000:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return row | result | {"wall_s": round(time.perf_counter() - started, 2)}


class _Databases:
    """Fresh databases: a new PostgreSQL database or a new SQLite file per measurement."""

    def __init__(self, server: PostgresServer | None) -> None:
        self.server = server
        self._tmp = Path(tempfile.mkdtemp(prefix="eventhex-bench-sqlite-"))
        self._count = 0

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        if spec["db"] == "postgres":
            assert self.server is not None
            name = self.server.create_database()
            try:
                return _worker(spec | {"target": self.server.dsn(name)})
            finally:
                self.server.drop_database(name)
        self._count += 1
        path = self._tmp / f"bench-{self._count}.sqlite3"
        try:
            return _worker(spec | {"target": str(path)})
        finally:
            for leftover in self._tmp.glob(f"{path.name}*"):
                leftover.unlink()


def run_group(
    group: str,
    databases: _Databases,
    dbs: list[str],
    reps: int,
    sqlite_reps: int | None = None,
) -> list[dict[str, Any]]:
    """Run every scenario of ``group``; returns one row per measurement."""
    rows: list[dict[str, Any]] = []
    for scenario, n, own_reps in GROUPS[group]:
        for db in dbs:
            if group == "latency" and db != "postgres":
                continue  # the live writer/reader pair is a PostgreSQL scenario
            contenders = ["floor"] if group == "floor" else [*IMPLS]
            if group != "floor" and db == "postgres" and _has_floor(scenario):
                contenders.append("floor")
            count = own_reps or reps
            if db == "sqlite" and sqlite_reps is not None:
                count = min(count, sqlite_reps)
            for rep in range(count):
                order = contenders if rep % 2 == 0 else contenders[::-1]
                for impl in order:
                    if impl == "floor" and db != "postgres":
                        continue
                    spec = {
                        "impl": impl,
                        "db": db,
                        "scenario": scenario,
                        "n": n,
                        "rep": rep,
                    }
                    row = databases.run(spec)
                    row["rep"] = rep
                    rows.append(row)
                    shown = f"{row['value']:,.1f} {row['unit']}" if "value" in row else "FAILED"
                    print(f"  {db:8} {scenario:18} {impl:9} rep {rep}: {shown}", flush=True)
    return rows


def _has_floor(scenario: str) -> bool:
    from benchmarks.floor import FLOORS

    return scenario in FLOORS


def main(argv: list[str]) -> int:
    """Parse the command line, run the groups, write the reports."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("group", choices=[*ORDER, "all", "report"])
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--sqlite-reps", type=int, default=2, help="at most this many on SQLite (default 2)"
    )
    parser.add_argument(
        "--db", default="postgres,sqlite", help="comma-separated: postgres, sqlite (default both)"
    )
    args = parser.parse_args(argv)
    if args.group == "report":
        _write_results()
        return 0
    groups = ORDER if args.group == "all" else (args.group,)
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    started = time.perf_counter()
    with RunningPostgres() as server:
        notes = _report.machine_notes(server.version) | {
            "reps": args.reps,
        }
        databases = _Databases(server)
        for group in groups:
            print(f"== {group} (at {time.perf_counter() - started:,.0f} s)", flush=True)
            if group == "memory":
                from benchmarks import memory

                rows = memory.run(server)
            elif group == "profile":
                from benchmarks import profiling

                rows = profiling.run(server)
            else:
                rows = run_group(group, databases, dbs, args.reps, args.sqlite_reps)
                rows += _external(group, server)
            _report.write_group(group, rows, notes)
    all_rows, _ = _report.read_groups()
    print(_report.table(all_rows))
    _write_results()
    print(f"\nfinished in {time.perf_counter() - started:,.0f} s; wrote benchmarks/RESULTS.md")
    return 0


def _external(group: str, server: PostgresServer) -> list[dict[str, Any]]:
    from benchmarks import external

    return external.run(group, server)


def _write_results() -> None:
    from benchmarks import results

    results.write()
