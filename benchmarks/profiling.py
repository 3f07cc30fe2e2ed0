"""cProfile of eventhex's hot paths on PostgreSQL: append, load and catch-up.

Each profile runs in its own process on a fresh database; only the measured part of the
scenario is profiled (see ``scenarios.measured``). The top functions by own time go into
``RESULTS.md``; ``out/profile-<scenario>.pstats`` keeps the full data for ``snakeviz`` or
``python -m pstats``.
"""

from __future__ import annotations

from typing import Any

from benchmarks._bench import Bench
from benchmarks._report import OUT

PROFILES = (
    ("append_single", 300),
    ("load_1000", 1000),
    ("catchup", 10_000),
)


def run(bench: Bench) -> list[dict[str, Any]]:
    """One row per profiled scenario, with the pstats text."""
    OUT.mkdir(exist_ok=True)
    rows = []
    for scenario, size in PROFILES:
        n = bench.size(size)
        spec = {
            "impl": "eventhex",
            "db": "postgres",
            "scenario": scenario,
            "n": n,
            "profile": True,
            "sort": "tottime",
            "top": 22,
            "dump": str(OUT / f"profile-{scenario}.pstats"),
        }
        row = bench.measure(spec, prefix="profile")
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
