"""cProfile of eventhex beside its floor (and eventsourcing 9.5.6), scenario by scenario.

Each profile runs in its own process on a fresh database and covers only the measured part of
the scenario (``benchmarks._measured``), doing the same work on every side. The time is split
by component, from each function's own time:

- ``PostgreSQL: COMMIT`` and ``PostgreSQL: statements``: the client waiting for the server
  (psycopg's ``wait``), split by what it waited for; a COMMIT waits for the disk flush of the
  write-ahead log in the headline mode, so that line is where ``fsync`` shows;
- ``psycopg``, ``Django``, ``eventhex``, ``event_sourcery``, ``pydantic``, ``eventsourcing``,
  ``benchmark`` (the scenario's own loop) and ``Python`` (the standard library, builtins).

The profiler slows Python code more than waiting, so shares are indicative; ``out/<mode>/
profile-<scenario>-<impl>.pstats`` keeps the full data (``python -m pstats``, ``snakeviz``).
"""

from __future__ import annotations

import io
import pstats
from typing import Any

from benchmarks._bench import Bench, Row
from benchmarks._report import OUT

PROFILES = (
    ("append_single", 300, ("eventhex", "floor", "eventsourcing")),
    ("append_batch10", 60, ("eventhex", "floor", "eventsourcing")),
    ("append_versioned", 300, ("eventhex", "floor")),
    ("load_1000", 1000, ("eventhex", "floor", "eventsourcing")),
    ("catchup", 20_000, ("eventhex", "floor", "eventsourcing")),
    ("outbox_drain", 1000, ("eventhex", "floor")),
)

COMPONENTS = (
    "PostgreSQL: COMMIT",
    "PostgreSQL: statements",
    "psycopg",
    "Django",
    "eventhex",
    "event_sourcery",
    "pydantic",
    "eventsourcing",
    "benchmark",
    "Python",
)

Key = tuple[str, int, str]


def component(key: Key) -> str:
    """The component a profiled function belongs to (waits on the server excluded)."""
    filename, _, name = key
    where = filename if filename != "~" else name
    for marker, label in (
        ("eventhex_", "eventhex"),
        ("/django/", "Django"),
        ("event_sourcery", "event_sourcery"),
        ("pydantic", "pydantic"),
        ("psycopg", "psycopg"),
        ("/eventsourcing/", "eventsourcing"),
        ("benchmarks/", "benchmark"),
    ):
        if marker in where:
            return label
    return "Python"


def _is_wait(key: Key) -> bool:
    filename, _, name = key
    return ("psycopg" in filename and name == "wait") or "wait_c" in name


def _is_commit(caller: Key) -> bool:
    filename, _, name = caller
    return "commit" in name or (filename.endswith("transaction.py") and "exit" in name)


def components(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per component (see the module docstring)."""
    table = stats.stats  # type: ignore[attr-defined]
    seconds = dict.fromkeys(COMPONENTS, 0.0)
    waits = {key: value for key, value in table.items() if _is_wait(key)}
    for key, (_, _, own, _, _) in table.items():
        if key not in waits:
            seconds[component(key)] += own
    # The wait's own time is its C loop blocked on the socket; the generators it drives are
    # psycopg's own time. Split the wait by what it waited for, from its callers.
    for _, (_, _, _, _, callers) in waits.items():
        for caller, (_, _, own, _) in callers.items():
            line = "PostgreSQL: COMMIT" if _is_commit(caller) else "PostgreSQL: statements"
            seconds[line] += own
    return seconds


def summary(profiler: Any, dump: str | None = None) -> dict[str, Any]:
    """The profile's components and its top functions by own time, for a result row."""
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    if dump:
        stats.dump_stats(dump)
    split = components(stats)
    stats.strip_dirs().sort_stats("tottime").print_stats(14)
    lines = [
        line[:150]
        for line in text.getvalue().splitlines()
        if line.strip() and "Ordered by" not in line and "List reduced" not in line
    ]
    return {"components": split, "profiled_s": sum(split.values()), "profile": "\n".join(lines)}


def run(bench: Bench) -> list[Row]:
    """One row per scenario and contender, each with its components."""
    mode = bench.options.mode.name
    (OUT / mode).mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for scenario, size, impls in PROFILES:
        n = bench.size(size)
        for impl in impls:
            spec = {
                "impl": impl,
                "db": "postgres",
                "scenario": scenario,
                "n": n,
                "profile": True,
                "dump": str(OUT / mode / f"profile-{scenario}-{impl}.pstats"),
            }
            row = bench.measure(spec, prefix="profile")
            rows.append(row | {"kind": "profile"})
            if "error" not in row:
                print(
                    f"  profiled {scenario} {impl}: {row['profiled_s'] * 1000:,.0f} ms profiled, "
                    f"{row['value']:,.1f} {row['unit']} under the profiler",
                    flush=True,
                )
    return rows
