"""The distinct stored event names on 1,000,000 events: the loose index scan of event_names.sql
against ``SELECT DISTINCT`` (``hatch run bench:run names``).

``manage.py eventhex_event_names`` and the ``eventhex.W301`` check ask for every stored name.
The events are written straight in SQL (50 names, 1,000 streams, ten per transaction id), as
after a bulk import: first measured as written, before anything has vacuumed or analyzed the
table (the index-only scan then visits the heap for each name it finds), then after
``VACUUM ANALYZE``. Each timing is the median of five calls on a warm cache.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._bench import Bench, Row, standalone

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "event_names.json"
EVENTS = 1_000_000
NAMES = 50
CALLS = 5

_STREAMS = """
INSERT INTO eventhex_stream (uuid, name, category, tenant_id, version)
SELECT md5('names' || s)::uuid, NULL, 'names', '', NULL FROM generate_series(1, 1000) AS s
"""

_EVENTS = """
INSERT INTO eventhex_event
    (stream_id, version, uuid, name, data, context, created_at, category, tenant_id, tx_id)
SELECT s.id, NULL, gen_random_uuid(), 'shop.Event' || (n %% %(names)s),
       jsonb_build_object('n', n, 'text', 'a payload of some ordinary length'),
       '{"causation_id": null, "correlation_id": null}', now(), 'names', '', (n - 1) / 10 + 1
FROM generate_series(%(first)s, %(last)s) AS n
JOIN eventhex_stream s ON s.uuid = md5('names' || ((n - 1) %% 1000 + 1))::uuid
"""

_LOOSE_SCAN = """
WITH RECURSIVE names(name) AS (
    (SELECT e.name FROM eventhex_event e ORDER BY e.name LIMIT 1)
    UNION ALL
    SELECT (SELECT e.name FROM eventhex_event e WHERE e.name > names.name
            ORDER BY e.name LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL"""
"""The body of ``eventhex_event_names()``, to show its plan."""


def _setup(dsn: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks._projection_settings"
    os.environ["EVENTHEX_BENCH_PROJECTIONS_DSN"] = dsn
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _execute(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def _fill(events: int) -> None:
    _execute(_STREAMS)
    for first in range(1, events + 1, 100_000):
        last = min(events, first + 99_999)
        _execute(_EVENTS, {"names": NAMES, "first": first, "last": last})


def _median_ms(call: Callable[[], object]) -> float:
    call()  # warm the cache
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def _timings(label: str) -> dict[str, Any]:
    from eventhex_django_adapter.event_names import stored_event_names

    names = stored_event_names("default")
    distinct = sorted(row[0] for row in _execute("SELECT DISTINCT name FROM eventhex_event"))
    assert names == distinct, "the loose index scan must find what DISTINCT finds"
    return {
        f"loose_scan_ms_{label}": _median_ms(lambda: stored_event_names("default")),
        f"distinct_ms_{label}": _median_ms(
            lambda: _execute("SELECT DISTINCT name FROM eventhex_event")
        ),
        "names": len(names),
    }


def measure(dsn: str, events: int) -> dict[str, Any]:
    """Fill ``events`` events into the empty database ``dsn`` and time both queries."""
    _setup(dsn)
    started = time.perf_counter()
    _fill(events)
    result: dict[str, Any] = {"events": events, "fill_s": round(time.perf_counter() - started, 1)}
    result.update(_timings("as_written"))
    _execute("VACUUM ANALYZE eventhex_event")
    result.update(_timings("vacuumed"))
    plan = _execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {_LOOSE_SCAN}")
    result["plan_vacuumed"] = [row[0] for row in plan]
    return result


def run(bench: Bench) -> list[Row]:
    """The ``names`` group: :func:`measure` in its own process on a fresh database."""
    with bench.postgres_database("names") as dsn:
        command = [sys.executable, "-m", "benchmarks.event_names", "--dsn", dsn]
        command += ["--events", str(bench.size(EVENTS))]
        subprocess.run(command, cwd=ROOT, check=True)
    result = json.loads(OUT.read_text())
    text = "\n".join(
        f"{key:<24} {value}" for key, value in result.items() if key != "plan_vacuumed"
    )
    text += "\n" + "\n".join(result["plan_vacuumed"])
    rows: list[Row] = [
        {"kind": "section", "title": "Stored event names (benchmarks/event_names.py)", "text": text}
    ]
    scenarios = ("loose_scan_ms_as_written", "distinct_ms_as_written", "loose_scan_ms_vacuumed")
    for scenario in scenarios:
        rows.append(
            {
                "impl": "eventhex",
                "db": "postgres",
                "n": result["events"],
                "rep": 0,
                "scenario": f"event_names_{scenario}",
                "value": result[scenario],
                "unit": "ms",
                "source": "event_names.py",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``--dsn``, or on a PostgreSQL of its own; exit status."""
    result = standalone(argv, "event_names", measure, EVENTS, OUT)
    for key, value in result.items():
        if key == "plan_vacuumed":
            print("\n".join(value))
        else:
            print(f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
