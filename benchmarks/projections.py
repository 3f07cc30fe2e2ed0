"""Projections benchmark: apply rate against catch-up rate, a 100k-event rebuild, failover.

``python -m benchmarks projections`` (a group of the registry, not in ``all``) or
``python -m benchmarks.projections [--events N] [--failovers K] [--reps R] [--dsn URI]`` (alone,
it starts a durable PostgreSQL of its own) appends ``N`` events (100,000 by default) in
transactions of 100 and in the same run measures:

- **catch-up**: reading every event through the backend's subscription (batches of 500), the
  ceiling any projection can reach;
- **apply**: ``ProjectionRunner`` applying the same events into a simple read-model table, a
  batch of 500 and its checkpoint per transaction: with one ``INSERT`` per event (``handle``),
  and with one ``executemany`` per batch (``handle_batch``); each as a ratio to catch-up
  (target at least 0.5), medians of ``--reps`` interleaved repetitions;
- **rebuild**: ``rebuild`` of that projection over all ``N`` events, with its progress lines,
  checked equal to the live table;
- **failover**: two runner processes; the owner is SIGKILLed ``K`` times while appends go on,
  timing how long until the other runner owns the projection and until it applies a batch;
  p50 and p95.

Prints a summary and writes ``benchmarks/out/projections.json``.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from event_sourcery.event import Recorded

from benchmarks._bench import Bench, Row
from benchmarks._events import OrderPlaced, order_placed
from eventhex_django_adapter.projections import Projection

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "projections.json"
TABLE = "bench_amount_rows"
BATCH = 500
EVENTS = 100_000
FAILOVERS = 20


class AmountRows(Projection):
    """One row per event: the simplest read model (a plain ``INSERT`` per event)."""

    name = "bench.amount_rows"
    event_types = (OrderPlaced,)
    batch_size = BATCH

    def handle(self, record: Recorded) -> None:
        from django.db import connection

        event = record.wrapped_event
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (event_uuid, stream, version, amount) "
                "VALUES (%s, %s, %s, %s)",
                [event.uuid, record.stream_id.name, event.version, event.event.total_cents],  # type: ignore[attr-defined]
            )

    def reset(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {TABLE}")


class AmountRowsBulk(AmountRows):
    """The same rows, written per batch with one ``executemany`` (``handle_batch``)."""

    name = "bench.amount_rows_bulk"
    table = f"{TABLE}_bulk"

    def handle_batch(self, records: Sequence[Recorded]) -> None:
        from django.db import connection

        rows = [
            (event.uuid, r.stream_id.name, event.version, event.event.total_cents)  # type: ignore[attr-defined]
            for r in records
            for event in (r.wrapped_event,)
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} (event_uuid, stream, version, amount) "
                "VALUES (%s, %s, %s, %s)",
                rows,
            )

    def handle(self, record: Recorded) -> None:
        self.handle_batch([record])

    def reset(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {self.table}")


def _setup(dsn: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks._projection_settings"
    os.environ["EVENTHEX_BENCH_PROJECTIONS_DSN"] = dsn
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        for table in (TABLE, AmountRowsBulk.table):
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY, event_uuid uuid, "
                "stream text, version int, amount bigint)"
            )


def _backend() -> Any:
    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    return DjangoBackend().configure(DjangoConfig(gap_retry_interval=0.2))


def _append(backend: Any, count: int, start: int = 0, per_transaction: int = 100) -> None:
    from django.db import transaction
    from event_sourcery import StreamId

    for first in range(start, start + count, per_transaction):
        size = min(per_transaction, start + count - first)
        with transaction.atomic():
            backend.event_store.append(
                *[order_placed() for _ in range(size)],
                stream_id=StreamId(name=f"acct-{first}", category="bench"),
            )


def _catch_up(backend: Any, count: int) -> float:
    seen = 0
    started = time.perf_counter()
    for batch in backend.subscriber.start_from(0).build_batch(BATCH, 0.1):
        seen += len(batch)
        if seen >= count:
            break
    return count / (time.perf_counter() - started)


def _caught_up(backend: Any, projection: Projection) -> bool:
    from eventhex_django_adapter.projections import projection_statuses

    return projection_statuses(backend, [projection])[0].lag_events == 0


def _apply(backend: Any, count: int, projection: Projection) -> float:
    """The runner's rate applying ``count`` events into an empty read model from the start."""
    from eventhex_django_adapter.projections import ProjectionRunner
    from eventhex_django_adapter.projections.models import ProjectionState

    ProjectionState.objects.filter(name=projection.name).delete()
    projection.reset()

    stop = threading.Event()
    runner = ProjectionRunner([projection], backend, stop)
    thread = threading.Thread(target=runner.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    rows = ProjectionState.objects.filter(name=projection.name)
    while rows.values_list("applied", flat=True).first() != count:
        time.sleep(0.05)  # looking more often takes the GIL from the runner
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    return count / elapsed


def _table_digest() -> tuple[int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), count(DISTINCT event_uuid), sum(amount) FROM {TABLE}")
        row = cursor.fetchone()
    return int(row[0]), int(row[1]), int(row[2] or 0)


def _rebuild(backend: Any) -> tuple[float, int]:
    from eventhex_django_adapter.projections import PlainProgress, rebuild

    started = time.perf_counter()
    result = rebuild(backend, AmountRows(), PlainProgress(AmountRows.name, sys.stdout, every=2.0))
    assert result.finished, result
    return time.perf_counter() - started, result.applied


def _start_runner(dsn: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks._projection_settings",
        "EVENTHEX_BENCH_PROJECTIONS_DSN": dsn,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "django", "eventhex_projections", "run"]
    command += ["--claim-interval", "0.1", "--log-format", "json", "--log-level", "warning"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _owner() -> tuple[str, int, int]:
    from eventhex_django_adapter.projections.models import ProjectionState

    row = ProjectionState.objects.get(name=AmountRows.name)
    return row.owner, row.generation, row.applied


def _failovers(dsn: str, backend: Any, trials: int, appended: int) -> dict[str, Any]:
    """Kill the owner ``trials`` times while a writer appends; time takeover and resume."""
    runners = [_start_runner(dsn), _start_runner(dsn)]
    halt = threading.Event()
    total = [appended]

    def write() -> None:
        from django.db import connections

        try:
            while not halt.is_set():
                _append(backend, 20, start=total[0], per_transaction=20)
                total[0] += 20
                time.sleep(0.01)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    takeovers: list[float] = []
    resumes: list[float] = []
    try:
        for _ in range(trials):
            while not (_owner()[0] and _live_runners() == 2):
                time.sleep(0.02)
            owner, generation, _ = _owner()
            victim = next(r for r in runners if r.pid == int(owner.split(":")[1]))
            victim.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            victim.wait()
            while True:
                now_owner, now_generation, now_applied = _owner()
                if now_owner not in ("", owner) and now_generation > generation:
                    break
                time.sleep(0.005)
            takeovers.append(time.perf_counter() - killed)
            while _owner()[2] <= now_applied:
                time.sleep(0.005)
            resumes.append(time.perf_counter() - killed)
            runners[runners.index(victim)] = _start_runner(dsn)
    finally:
        halt.set()
        writer.join()
        for runner in runners:
            runner.send_signal(signal.SIGTERM)
        for runner in runners:
            runner.wait(timeout=60)
    return {"takeover": takeovers, "resume": resumes, "events": total[0]}


def _live_runners() -> int:
    from django.db import connection

    from eventhex_django_adapter.projections._ownership import RUNNER_LOCKS

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objsubid = 2",
            [RUNNER_LOCKS],
        )
        return int(cursor.fetchone()[0])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(dsn: str, events: int, failovers: int, reps: int) -> dict[str, Any]:
    """Every measurement on the empty database ``dsn``; the result as a dict."""
    _setup(dsn)
    backend = _backend()
    started = time.perf_counter()
    _append(backend, events)
    append_seconds = time.perf_counter() - started
    # Interleaved repetitions: the machine is shared, so each ratio is taken within one rep.
    measured = []
    for _ in range(reps):
        catch_up = _catch_up(backend, events)
        applied = _apply(backend, events, AmountRows())
        applied_bulk = _apply(backend, events, AmountRowsBulk())
        measured.append((catch_up, applied, applied_bulk))
    live = _table_digest()
    rebuild_seconds, replayed = _rebuild(backend)
    rebuilt = _table_digest()
    failover = _failovers(dsn, backend, failovers, events)
    return {
        "events": events,
        "append_seconds": round(append_seconds, 2),
        "reps": reps,
        "catch_up_events_per_s": round(statistics.median(r[0] for r in measured)),
        "apply_events_per_s": round(statistics.median(r[1] for r in measured)),
        "apply_to_catch_up": round(statistics.median(r[1] / r[0] for r in measured), 3),
        "apply_bulk_events_per_s": round(statistics.median(r[2] for r in measured)),
        "apply_bulk_to_catch_up": round(statistics.median(r[2] / r[0] for r in measured), 3),
        "rebuild_seconds": round(rebuild_seconds, 2),
        "rebuild_events_per_s": round(replayed / rebuild_seconds),
        "rebuild_equals_live": rebuilt == live and replayed == events,
        "failover_trials": len(failover["takeover"]),
        "takeover_p50_s": round(statistics.median(failover["takeover"]), 3),
        "takeover_p95_s": round(_percentile(failover["takeover"], 0.95), 3),
        "resume_p50_s": round(statistics.median(failover["resume"]), 3),
        "resume_p95_s": round(_percentile(failover["resume"], 0.95), 3),
    }


def run(bench: Bench) -> list[Row]:
    """The ``projections`` group: :func:`measure` in its own process on a fresh database."""
    with bench.postgres_database("projections") as dsn:
        command = [sys.executable, "-m", "benchmarks.projections", "--dsn", dsn]
        command += ["--events", str(bench.size(EVENTS)), "--failovers", str(FAILOVERS)]
        command += ["--reps", str(bench.options.reps)]
        subprocess.run(command, cwd=ROOT, check=True)
    result = json.loads(OUT.read_text())
    text = "\n".join(f"{key:<24} {value}" for key, value in result.items())
    rows: list[Row] = [
        {"kind": "section", "title": "Projections (benchmarks/projections.py)", "text": text}
    ]
    for scenario, key, unit in (
        ("projection_catch_up", "catch_up_events_per_s", "events/s"),
        ("projection_apply", "apply_events_per_s", "events/s"),
        ("projection_apply_bulk", "apply_bulk_events_per_s", "events/s"),
        ("projection_rebuild", "rebuild_events_per_s", "events/s"),
        ("projection_takeover_p95", "takeover_p95_s", "s"),
    ):
        rows.append(
            {
                "impl": "eventhex",
                "db": "postgres",
                "n": result["events"],
                "rep": 0,
                "scenario": scenario,
                "value": result[key],
                "unit": unit,
                "source": "projections.py",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``--dsn``, or on a durable PostgreSQL of its own; exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.projections")
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--failovers", type=int, default=FAILOVERS)
    parser.add_argument("--reps", type=int, default=3, help="catch-up/apply repetitions (3)")
    parser.add_argument("--dsn", help="an empty database to use (default: start a server)")
    args = parser.parse_args(argv)
    if args.dsn:
        result = measure(args.dsn, args.events, args.failovers, args.reps)
    else:
        from eventhex_devtools.postgres import ThrowawayPostgres

        with ThrowawayPostgres(prefix="eventhex-bench-projections-", durable=True) as server:
            name = server.create_database("projections")
            result = measure(server.dsn(name), args.events, args.failovers, args.reps)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:<24} {value}")
    return 0 if result["rebuild_equals_live"] else 1


if __name__ == "__main__":
    sys.exit(main())
