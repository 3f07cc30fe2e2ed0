"""Groups that compare contenders scenario by scenario: eventhex, python-event-sourcery 0.6.1's
Django backend (``upstream``), the psycopg floor and eventsourcing 9.5.6, on each database,
repeated in alternating order."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from benchmarks._bench import Bench, Row

CONTENDERS = ("eventhex", "floor", "eventsourcing", "upstream")
"""Every contender, in the order of the first repetition (later ones rotate it)."""

PEER_SCENARIOS = ("append_single", "append_batch10", "load_1000", "catchup")
"""The scenarios eventsourcing 9.5.6 runs (``benchmarks.peer``)."""

Scenario = tuple[str, int, int | None]
"""(scenario, events or operations, repetitions or None for the run's default)."""


def comparison(
    scenarios: Sequence[Scenario],
    contenders: Sequence[str] = CONTENDERS,
    dbs: Sequence[str] = ("postgres", "sqlite"),
) -> Callable[[Bench], list[Row]]:
    """A group that measures ``scenarios`` for ``contenders`` on ``dbs``; the floor and
    eventsourcing join on PostgreSQL wherever they have the scenario."""

    def run(bench: Bench) -> list[Row]:
        rows: list[Row] = []
        for scenario, n, own_reps in scenarios:
            for db in [d for d in bench.dbs if d in dbs]:
                rows += _compare(bench, scenario, bench.size(n), own_reps, db, contenders)
        return rows

    return run


def present(scenario: str, db: str, contenders: Sequence[str]) -> list[str]:
    """The contenders that run ``scenario`` on ``db``."""
    from benchmarks.floor import FLOORS

    def runs(impl: str) -> bool:
        if impl == "floor":
            return db == "postgres" and scenario in FLOORS
        if impl == "eventsourcing":
            return db == "postgres" and scenario in PEER_SCENARIOS
        return True

    return [impl for impl in contenders if runs(impl)]


def _compare(
    bench: Bench, scenario: str, n: int, own_reps: int | None, db: str, contenders: Sequence[str]
) -> list[Row]:
    impls = present(scenario, db, contenders)
    count = own_reps or bench.options.reps
    if db == "sqlite":
        count = min(count, bench.options.sqlite_reps)
    rows = []
    for rep in range(count):
        shift = rep % len(impls)
        order = impls[shift:] + impls[:shift]  # each contender leads in turn
        for impl in order:
            spec = {"impl": impl, "db": db, "scenario": scenario, "n": n, "rep": rep}
            row = bench.measure(spec) | {"rep": rep}
            rows.append(row)
            shown = f"{row['value']:,.1f} {row['unit']}" if "value" in row else "FAILED"
            print(f"  {db:8} {scenario:18} {impl:13} rep {rep}: {shown}", flush=True)
    return rows
