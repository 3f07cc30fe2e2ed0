"""cProfile of eventhex's hot paths on PostgreSQL: append, load and catch-up.

Each profile runs in its own process on a fresh database; only the measured part of the
scenario is profiled (see ``scenarios.measured``). The top functions by own time go into
``RESULTS.md``; ``out/profile-<scenario>.pstats`` keeps the full data for ``snakeviz`` or
``python -m pstats``.
"""

from __future__ import annotations

from typing import Any

from benchmarks._postgres import PostgresServer
from benchmarks._report import OUT

PROFILES = (
    ("append_single", 300),
    ("load_1000", 1000),
    ("catchup", 10_000),
)


def run(server: PostgresServer) -> list[dict[str, Any]]:
    """One row per profiled scenario, with the pstats text."""
    from benchmarks.run import _worker

    OUT.mkdir(exist_ok=True)
    rows = []
    for scenario, n in PROFILES:
        name = server.create_database("profile")
        try:
            spec = {
                "impl": "eventhex",
                "db": "postgres",
                "scenario": scenario,
                "n": n,
                "target": server.dsn(name),
                "profile": True,
                "sort": "tottime",
                "top": 22,
                "dump": str(OUT / f"profile-{scenario}.pstats"),
            }
            row = _worker(spec)
        finally:
            server.drop_database(name)
        if "error" in row:
            rows.append(row)
            continue
        title = f"{scenario} (n={n}): {row['value']:,.1f} {row['unit']} under the profiler"
        text = "\n".join(
            line[:160]
            for line in row["profile"].splitlines()
            if line.strip() and "Ordered by" not in line and "List reduced" not in line
        )
        rows.append(
            {
                "kind": "profile",
                "scenario": scenario,
                "db": "postgres",
                "impl": "eventhex",
                "title": title,
                "text": text,
            }
        )
        print(f"  profiled {title}", flush=True)
    return rows
