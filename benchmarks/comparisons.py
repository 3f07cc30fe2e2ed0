"""Groups that compare contenders scenario by scenario: eventhex, python-event-sourcery 0.6.1's
Django backend (``upstream``) and the psycopg floor, on each database, repeated in alternating
order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from benchmarks._bench import Bench, Row
from benchmarks.floor import FLOORS

IMPLS = ("eventhex", "upstream")

Scenario = tuple[str, int, int | None]
"""(scenario, events or operations, repetitions or None for the run's default)."""


def comparison(
    scenarios: Sequence[Scenario],
    contenders: Sequence[str] = IMPLS,
    dbs: Sequence[str] = ("postgres", "sqlite"),
) -> Callable[[Bench], list[Row]]:
    """A group that measures ``scenarios`` for ``contenders`` on ``dbs`` (the floor joins on
    PostgreSQL wherever it has the scenario)."""

    def run(bench: Bench) -> list[Row]:
        rows: list[Row] = []
        for scenario, n, own_reps in scenarios:
            for db in [d for d in bench.options.dbs if d in dbs]:
                rows += _compare(bench, scenario, bench.size(n), own_reps, db, contenders)
        return rows

    return run


def _compare(
    bench: Bench, scenario: str, n: int, own_reps: int | None, db: str, contenders: Sequence[str]
) -> list[Row]:
    present = [impl for impl in contenders if impl != "floor" or db == "postgres"]
    if "floor" not in contenders and db == "postgres" and scenario in FLOORS:
        present.append("floor")
    count = own_reps or bench.options.reps
    if db == "sqlite":
        count = min(count, bench.options.sqlite_reps)
    rows = []
    for rep in range(count):
        for impl in present if rep % 2 == 0 else present[::-1]:
            spec = {"impl": impl, "db": db, "scenario": scenario, "n": n, "rep": rep}
            row = bench.measure(spec) | {"rep": rep}
            rows.append(row)
            shown = f"{row['value']:,.1f} {row['unit']}" if "value" in row else "FAILED"
            print(f"  {db:8} {scenario:18} {impl:9} rep {rep}: {shown}", flush=True)
    return rows
