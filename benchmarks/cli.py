"""The benchmark command line: ``python -m benchmarks GROUP [options]``.

GROUP is a name from :mod:`benchmarks.groups`, ``all`` (every group marked for it) or ``report``
(only regenerate ``RESULTS.md``). Each mode (``--mode``; both by default) starts its own
PostgreSQL: the headline mode with the server's default durability settings, the CPU-only mode
with fsync off. Every measurement gets a fresh database (PostgreSQL) or file (SQLite); eventhex,
the psycopg floor, eventsourcing 9.5.6 and python-event-sourcery 0.6.1 run side by side in
separate processes, in rotating order, repeated; the report takes medians. The run prints the
tables and writes ``out/<mode>/<group>.jsonl`` and ``RESULTS.md``. A run with ``--scale`` other
than 1 only prints.
"""

from __future__ import annotations

import argparse
import time

from eventhex_devtools.postgres import ThrowawayPostgres

from benchmarks import _report, _tables, results
from benchmarks._bench import MODES, Bench, Options, Row
from benchmarks.groups import GROUPS, Group

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(
        f"  {g.name:<14} {g.summary} [{', '.join(g.modes)}]" for g in GROUPS.values()
    )
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=f"{__doc__}\ngroups [modes]:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("group", choices=[*GROUPS, "all", "report"])
    parser.add_argument(
        "--mode",
        choices=[*MODES, "both"],
        default="both",
        help="headline (users' conditions), cpu (fsync off) or both (default)",
    )
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


def _run_mode(mode: str, chosen: list[Group], args: argparse.Namespace, keep: bool) -> list[Row]:
    options = Options(
        reps=args.reps,
        sqlite_reps=args.sqlite_reps,
        dbs=tuple(d.strip() for d in args.db.split(",") if d.strip()),
        scale=args.scale,
        mode=MODES[mode],
    )
    started = time.perf_counter()
    measured: list[Row] = []
    cluster = ThrowawayPostgres(
        prefix=f"eventhex-bench-{mode}-", server_defaults=MODES[mode].server_defaults
    )
    with cluster as server:
        bench = Bench(server, options)
        notes = _report.machine_notes(server) | {"reps": options.reps}
        print(f"= {mode} mode: {notes['postgresql settings']}", flush=True)
        for group in [g for g in chosen if mode in g.modes]:
            at = time.perf_counter() - started
            print(f"== {mode}: {group.name} (at {at:,.0f} s)", flush=True)
            rows = group.run(bench)
            measured += rows
            if keep:
                _report.write_group(mode, group.name, rows, notes)
    return measured


def main(argv: list[str]) -> int:
    """Parse the command line, run the groups in each mode, write the reports."""
    args = _parser().parse_args(argv)
    if args.group == "report":
        results.write()
        return 0
    chosen = (
        [group for group in GROUPS.values() if group.in_all]
        if args.group == "all"
        else [GROUPS[args.group]]
    )
    modes = list(MODES) if args.mode == "both" else [args.mode]
    keep = args.scale == 1
    started = time.perf_counter()
    for mode in modes:
        rows = _run_mode(mode, chosen, args, keep)
        shown = _report.read_groups(mode)[0] if keep else rows
        for db in ("postgres", "sqlite"):
            table = _tables.comparison_table(shown, db, targets=mode == "headline")
            if table:
                print(f"\n{mode}, {db}:\n{table}")
        headline = mode == "headline"
        for table in (_tables.writers_table(shown, headline), _tables.million_table(shown)):
            if table:
                print(f"\n{table}")
    if keep:
        results.write()
    elapsed = time.perf_counter() - started
    written = "; wrote benchmarks/RESULTS.md" if keep else " (scaled: nothing written)"
    print(f"\nfinished in {elapsed:,.0f} s{written}")
    return 0
