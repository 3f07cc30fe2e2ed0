"""Catch-up memory: eventhex reads 20,000 and 100,000 events with ``build_batch(1000)``.

Each size runs in a fresh process on a fresh PostgreSQL database; the report shows the peak
resident set, how much it grew during the catch-up, and the tracemalloc peak, which must not
grow with the number of events.
"""

from __future__ import annotations

from typing import Any

from benchmarks._bench import Bench

SIZES = (20_000, 100_000)


def run(bench: Bench) -> list[dict[str, Any]]:
    """One row per size."""
    rows = []
    for size in SIZES:
        n = bench.size(size)
        spec = {"impl": "eventhex", "db": "postgres", "scenario": "catchup_memory", "n": n}
        row = bench.measure(spec, prefix="memory")
        rows.append(row)
        if "error" in row:
            continue
        print(
            f"  memory {n:>7,} events: peak RSS {row['peak_rss_mib']:.1f} MiB "
            f"(+{row['rss_growth_mib']:.1f} during catch-up), tracemalloc peak "
            f"{row['tracemalloc_peak_mib']:.1f} MiB, {row['events_per_s']:,.0f} events/s",
            flush=True,
        )
    return rows
