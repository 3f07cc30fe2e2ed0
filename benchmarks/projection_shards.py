"""Sharded projections benchmark (issue 30): one slow projection spread over runner processes.

``python -m benchmarks shards`` (a group of the registry, not in ``all``) or
``python -m benchmarks.projection_shards [--events N] [--failovers K] [--dsn URI]`` (alone, it
starts a PostgreSQL of its own) appends ``N`` events (20,000 by default) to streams of ten, then
applies them with a handler that writes a row and sleeps 2 ms per event (an outside call's
latency), in one run:

- ``shards = 1`` on one runner process, and ``shards = 4`` on 1, 2 and 4 runner processes:
  events/s from the moment every runner owns its share until the last event is applied, and the
  share of the events each runner process applied (each row records its writer's pid);
- the ratio of ``shards = 4`` on 4 runners to ``shards = 1`` on 1 (target at least 3);
- takeover: ``K`` times, one of the four runners is SIGKILLed while appends go on, timing until
  every shard it owned has a new owner; p50 and p95.

Each shard reads every event and keeps its own (the split is in Python), so ``shards = 4`` reads
the log four times: the read is cheap next to a handler that waits.

Prints a summary and writes ``benchmarks/out/projection_shards.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from event_sourcery.event import Recorded

from benchmarks._bench import Bench, Row
from benchmarks._events import order_placed
from eventhex_django_adapter.projections import Projection

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "projection_shards.json"
TABLE = "bench_slow_rows"
EVENTS = 20_000
FAILOVERS = 10
WAIT_PER_EVENT = 0.002
SETUPS = (("bench.slow_1", 1), ("bench.slow_4", 1), ("bench.slow_4", 2), ("bench.slow_4", 4))
"""(projection, runner processes) in the order they are measured."""


class SlowRows(Projection):
    """Writes one row per event and waits 2 ms, as a call to another service would."""

    name = "bench.slow_1"

    def handle(self, record: Recorded) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (projection, event_uuid, runner) VALUES (%s, %s, %s)",
                [self.name, record.wrapped_event.uuid, os.getpid()],
            )
        time.sleep(WAIT_PER_EVENT)


class SlowRowsSharded(SlowRows):
    """The same, in four shards."""

    name = "bench.slow_4"
    shards = 4


def _setup(dsn: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks._projection_settings"
    os.environ["EVENTHEX_BENCH_PROJECTIONS_DSN"] = dsn
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, projection text, "
            "event_uuid uuid, runner int)"
        )


def _append(backend: Any, count: int, start: int = 0, per_stream: int = 10) -> None:
    from django.db import transaction
    from event_sourcery import StreamId

    for first in range(start, start + count, per_stream):
        size = min(per_stream, start + count - first)
        with transaction.atomic():
            backend.event_store.append(
                *[order_placed() for _ in range(size)],
                stream_id=StreamId(name=f"acct-{first}", category="bench"),
            )


def _start_runner(dsn: str, projection: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks._projection_settings",
        "EVENTHEX_BENCH_PROJECTIONS_DSN": dsn,
        "EVENTHEX_BENCH_PROJECTIONS": projection,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "django", "eventhex_projections", "run"]
    command += ["--claim-interval", "0.1", "--log-format", "json", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _rows(name: str) -> Any:
    from eventhex_django_adapter.projections.models import ProjectionState

    return ProjectionState.objects.filter(projection=name)


def _settled(name: str, runners: int) -> bool:
    """Every shard owned, by as many distinct runners as there are."""
    owners = [row.owner for row in _rows(name)]
    return all(owners) and len(set(owners)) == runners


def _wait(condition: Any, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _class_path(name: str) -> str:
    cls = SlowRows if name == SlowRows.name else SlowRowsSharded
    return f"benchmarks.projection_shards.{cls.__qualname__}"


def _throughput(dsn: str, name: str, runners: int, events: int) -> dict[str, Any]:
    """Start ``runners`` processes held at a stopped projection, release it, time the apply."""
    from django.db import connection

    from eventhex_django_adapter.projections import _store
    from eventhex_django_adapter.projections._shards import units_of
    from eventhex_django_adapter.projections.models import ProjectionState

    projection = SlowRows() if name == SlowRows.name else SlowRowsSharded()
    _rows(name).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE projection = %s", [name])
    _store.ensure_rows("default", units_of(projection))
    _rows(name).update(state=ProjectionState.State.STOPPED)  # workers wait until released
    processes = [_start_runner(dsn, _class_path(name)) for _ in range(runners)]
    try:
        _wait(lambda: _settled(name, min(runners, projection.shards)), "the shards to settle")
        started = time.perf_counter()
        _rows(name).update(state=ProjectionState.State.RUNNING)
        _wait(lambda: sum(_rows(name).values_list("applied", flat=True)) >= events, "the apply")
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT runner, count(*), count(DISTINCT event_uuid) FROM {TABLE} "
            "WHERE projection = %s GROUP BY runner",
            [name],
        )
        per_runner = cursor.fetchall()
    applied = sum(row[1] for row in per_runner)
    shares = sorted((round(row[1] / applied, 3) for row in per_runner), reverse=True)
    return {
        "projection": name,
        "shards": projection.shards,
        "runners": runners,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed),
        "shares": shares,
        "exactly_once": applied == events and sum(row[2] for row in per_runner) >= events,
    }


def _failovers(dsn: str, backend: Any, trials: int, appended: int) -> list[float]:
    """SIGKILL one of four runners ``trials`` times while appends go on; takeover seconds."""
    name = SlowRowsSharded.name
    runners = [_start_runner(dsn, _class_path(name)) for _ in range(4)]
    halt = threading.Event()
    total = [appended]

    def write() -> None:
        from django.db import connections

        try:
            while not halt.is_set():
                _append(backend, 20, start=total[0])
                total[0] += 20
                time.sleep(0.02)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    takeovers: list[float] = []
    try:
        for trial in range(trials):
            _wait(lambda: _settled(name, 4), "four runners to own a shard each")
            rows = list(_rows(name))
            victim_owner = rows[trial % len(rows)].owner
            orphans = {r.name: r.generation for r in rows if r.owner == victim_owner}
            victim = next(r for r in runners if r.pid == int(victim_owner.split(":")[1]))
            victim.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            victim.wait()

            def taken_over(orphans: dict[str, int] = orphans, gone: str = victim_owner) -> bool:
                now = {r.name: r for r in _rows(name).filter(name__in=orphans)}
                return all(
                    now[n].owner not in ("", gone) and now[n].generation > g
                    for n, g in orphans.items()
                )

            _wait(taken_over, "the takeover")
            takeovers.append(time.perf_counter() - killed)
            runners[runners.index(victim)] = _start_runner(dsn, _class_path(name))
    finally:
        halt.set()
        writer.join()
        for runner in runners:
            runner.send_signal(signal.SIGTERM)
        for runner in runners:
            runner.wait(timeout=60)
    return takeovers


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(dsn: str, events: int, failovers: int) -> dict[str, Any]:
    """Every measurement on the empty database ``dsn``; the result as a dict."""
    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    _setup(dsn)
    backend = DjangoBackend().configure(DjangoConfig(gap_retry_interval=0.2))
    _append(backend, events)
    runs = [_throughput(dsn, name, runners, events) for name, runners in SETUPS]
    base = runs[0]["events_per_s"]
    for run in runs:
        run["ratio_to_1_on_1"] = round(run["events_per_s"] / base, 2)
    takeovers = _failovers(dsn, backend, failovers, events) if failovers else []
    return {
        "events": events,
        "wait_per_event_ms": WAIT_PER_EVENT * 1000,
        "runs": runs,
        "ratio_4_on_4": runs[-1]["ratio_to_1_on_1"],
        "ratio_target": 3.0,
        "failover_trials": len(takeovers),
        "takeover_p50_s": round(statistics.median(takeovers), 3) if takeovers else None,
        "takeover_p95_s": round(_percentile(takeovers, 0.95), 3) if takeovers else None,
    }


def table(result: dict[str, Any]) -> str:
    """The result as fixed-width text."""
    lines = [
        f"{result['events']:,} events, handler: one INSERT and a {result['wait_per_event_ms']:g} "
        "ms wait per event",
        "",
        f"{'shards':>6}  {'runners':>7}  {'seconds':>8}  {'events/s':>8}  {'vs 1 on 1':>9}  "
        "share per runner     exactly once",
    ]
    for run in result["runs"]:
        shares = ", ".join(f"{share:.0%}" for share in run["shares"])
        lines.append(
            f"{run['shards']:>6}  {run['runners']:>7}  {run['seconds']:>8.2f}  "
            f"{run['events_per_s']:>8,}  {run['ratio_to_1_on_1']:>8.2f}x  {shares:<20} "
            f"{'yes' if run['exactly_once'] else 'NO'}"
        )
    mark = "✓" if result["ratio_4_on_4"] >= result["ratio_target"] else "✗"
    lines += [
        "",
        f"4 shards on 4 runners / 1 shard on 1: {result['ratio_4_on_4']:.2f}x "
        f"(target ≥ {result['ratio_target']:g}x {mark})",
        f"takeover of a SIGKILLed runner's shards ({result['failover_trials']} trials): "
        f"p50 {result['takeover_p50_s']} s, p95 {result['takeover_p95_s']} s",
    ]
    return "\n".join(lines)


def run(bench: Bench) -> list[Row]:
    """The ``shards`` group: :func:`measure` in its own process on a fresh database."""
    with bench.postgres_database("shards") as dsn:
        command = [sys.executable, "-m", "benchmarks.projection_shards", "--dsn", dsn]
        command += ["--events", str(bench.size(EVENTS)), "--failovers", str(FAILOVERS)]
        subprocess.run(command, cwd=ROOT, check=True)
    result = json.loads(OUT.read_text())
    title = "Sharded projections (benchmarks/projection_shards.py)"
    rows: list[Row] = [{"kind": "section", "title": title, "text": table(result)}]
    for run_ in result["runs"]:
        rows.append(
            {
                "impl": "eventhex",
                "db": "postgres",
                "n": result["events"],
                "rep": 0,
                "scenario": f"projection_shards_{run_['shards']}_on_{run_['runners']}",
                "value": run_["events_per_s"],
                "unit": "events/s",
                "source": "projection_shards.py",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``--dsn``, or on a PostgreSQL of its own; exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.projection_shards")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--failovers", type=int, default=FAILOVERS)
    parser.add_argument("--dsn", help="an empty database to use (default: start a server)")
    args = parser.parse_args(argv)
    if args.dsn:
        result = measure(args.dsn, args.events, args.failovers)
    else:
        from eventhex_devtools.postgres import ThrowawayPostgres

        with ThrowawayPostgres(prefix="eventhex-bench-shards-") as server:
            name = server.create_database("shards")
            result = measure(server.dsn(name), args.events, args.failovers)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0 if all(r["exactly_once"] for r in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
