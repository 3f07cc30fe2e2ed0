"""The benchmark command line: ``python -m benchmarks GROUP [options]``.

GROUP is a name from :mod:`benchmarks.groups`, ``all`` (every group marked for it) or ``report``
(only regenerate ``RESULTS.md``). The run starts its own PostgreSQL, gives every measurement a
fresh database (PostgreSQL) or file (SQLite), runs eventhex, python-event-sourcery 0.6.1 and the
psycopg floor side by side in separate processes, repeats, takes medians, prints the table, and
writes ``out/<group>.jsonl`` and ``RESULTS.md``. A run with ``--scale`` other than 1 only prints.
"""

from __future__ import annotations

import argparse
import time

from eventhex_devtools.postgres import ThrowawayPostgres

from benchmarks import _report, results
from benchmarks._bench import Bench, Options
from benchmarks.groups import GROUPS

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {g.name:<14} {g.summary}" for g in GROUPS.values())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=f"{__doc__}\ngroups:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("group", choices=[*GROUPS, "all", "report"])
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--sqlite-reps", type=int, default=2, help="at most this many on SQLite (default 2)"
    )
    parser.add_argument(
        "--db", default="postgres,sqlite", help="comma-separated: postgres, sqlite (default both)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every size (e.g. 0.05 for a quick check); such a run writes nothing",
    )
    return parser


def main(argv: list[str]) -> int:
    """Parse the command line, run the groups, write the reports."""
    args = _parser().parse_args(argv)
    if args.group == "report":
        results.write()
        return 0
    if args.group == "all":
        chosen = [group for group in GROUPS.values() if group.in_all]
    else:
        chosen = [GROUPS[args.group]]
    options = Options(
        reps=args.reps,
        sqlite_reps=args.sqlite_reps,
        dbs=tuple(d.strip() for d in args.db.split(",") if d.strip()),
        scale=args.scale,
    )
    keep = options.scale == 1
    started = time.perf_counter()
    with ThrowawayPostgres(prefix="eventhex-bench-pg-") as server:
        bench = Bench(server, options)
        notes = _report.machine_notes(server.version()) | {"reps": options.reps}
        measured = []
        for group in chosen:
            print(f"== {group.name} (at {time.perf_counter() - started:,.0f} s)", flush=True)
            rows = group.run(bench)
            measured += rows
            if keep:
                _report.write_group(group.name, rows, notes)
    print(_report.table(_report.read_groups()[0] if keep else measured))
    if keep:
        results.write()
    elapsed = time.perf_counter() - started
    written = "; wrote benchmarks/RESULTS.md" if keep else " (scaled: nothing written)"
    print(f"\nfinished in {elapsed:,.0f} s{written}")
    return 0
