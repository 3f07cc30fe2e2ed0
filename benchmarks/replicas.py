"""Subscribers on a streaming replica (issue 29): reads off the primary, appends beside them.

One run starts its own primary (with the run's durability settings) and a hot standby streaming
from it, and seeds 20,000 events. Then, once with eight subscribers reading from the primary and
once with them on the replica (``DjangoConfig(subscription_database=...)``), each subscriber
process catches up from position 0 over and over while two writer processes append one event
per ``transaction.atomic()`` for a fixed time. Measured: the writers' append rate, and the calls
of the subscription page function (``eventhex_read_all``) each server ran, from PostgreSQL's own
counters (``track_functions = 'pl'``, ``pg_stat_user_functions``). Last, the live latency of a
caught-up ``build_iter`` subscriber on each, p50 and p99 of 100 single appends.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from typing import Any

from eventhex_devtools.postgres import ThrowawayPostgres, ThrowawayStandby

from benchmarks._bench import MODES, Bench, Row

SUBSCRIBERS = 8
WRITERS = 2
SECONDS = 5.0
SEED = 20_000
LIVE = 100


def _configure(primary: str, replica: str, mode: str) -> None:
    import django
    from django.conf import settings

    from benchmarks._django import database_settings

    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "eventhex_django_adapter",
        ],
        DATABASES={
            "default": database_settings("postgres", primary, MODES[mode]),
            "replica": database_settings("postgres", replica, MODES[mode]),
        },
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        SECRET_KEY="eventhex-benchmarks",
        LOGGING_CONFIG=None,
    )
    django.setup()


def _backend(on_replica: bool) -> Any:
    from datetime import timedelta

    import benchmarks._events  # noqa: F401  (registers the event classes read back)
    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    config = DjangoConfig(
        subscription_database="replica" if on_replica else None,
        gap_retry_interval=timedelta(seconds=1),
    )
    return DjangoBackend().configure(config)


def _seed(primary: str, replica: str, mode: str) -> None:
    from django.core.management import call_command
    from django.db import transaction

    from benchmarks._events import new_stream, written

    _configure(primary, replica, mode)
    call_command("migrate", verbosity=0, interactive=False)
    store = _backend(False).event_store
    for n in range(0, SEED, 100):
        with transaction.atomic():
            for k in range(10):
                store.append(*[written(k) for _ in range(10)], stream_id=new_stream(f"s{n}"))


def _subscribe(primary: str, replica: str, mode: str, on_replica: bool, stop: Any) -> None:
    from datetime import timedelta

    _configure(primary, replica, mode)
    backend = _backend(on_replica)
    while not stop.is_set():
        batches = backend.subscriber.start_from(0).build_batch(500, timedelta(seconds=0.1))
        while not stop.is_set() and next(batches):
            pass


def _write(primary: str, replica: str, mode: str, w: int, results: Any) -> None:
    from django.db import transaction

    from benchmarks._events import new_stream, written

    _configure(primary, replica, mode)
    store = _backend(False).event_store
    deadline, count = time.monotonic() + SECONDS, 0
    while time.monotonic() < deadline:
        with transaction.atomic():
            store.append(written(w), stream_id=new_stream(f"w{w}-{os.getpid()}"))
        count += 1
    results.put(count)


def _live(primary: str, replica: str, mode: str, on_replica: bool, results: Any) -> None:
    import threading
    from datetime import UTC, datetime

    from benchmarks._events import new_stream, written

    _configure(primary, replica, mode)
    backend = _backend(on_replica)
    position = 0
    for batch in backend.subscriber.start_from(0).build_batch(500, 0.2):
        if not batch:
            break
        position = batch[-1].position
    newest = backend.subscriber.start_from(position).build_iter(timelimit=1)
    store = _backend(False).event_store
    delays: list[float] = []

    def append() -> None:
        for _ in range(LIVE):
            time.sleep(0.02)
            store.append(written(0), stream_id=new_stream(f"live-{os.getpid()}"))

    appender = threading.Thread(target=append)
    appender.start()
    while len(delays) < LIVE:
        record = next(newest)
        if record is not None:
            created = record.wrapped_event.created_at.replace(tzinfo=UTC)
            delays.append((datetime.now(UTC) - created).total_seconds() * 1000)
    appender.join()
    ordered = sorted(delays)
    results.put((statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]))


def _read_calls(cluster: ThrowawayPostgres) -> int:
    import psycopg

    with psycopg.connect(cluster.server.dsn("bench"), autocommit=True) as connection:
        row = connection.execute(
            "SELECT COALESCE(sum(calls), 0) FROM pg_stat_user_functions "
            "WHERE funcname = 'eventhex_read_all'"
        ).fetchone()
    return int(row[0]) if row else 0


def _round(
    primary: ThrowawayPostgres, standby: ThrowawayStandby, mode: str, on_replica: bool
) -> Row:
    context = multiprocessing.get_context("spawn")
    dsns = (primary.server.dsn("bench"), standby.server.dsn("bench"), mode)
    before = (_read_calls(primary), _read_calls(standby))
    stop, results = context.Event(), context.Queue()
    readers = [
        context.Process(target=_subscribe, args=(*dsns, on_replica, stop))
        for _ in range(SUBSCRIBERS)
    ]
    for reader in readers:
        reader.start()
    time.sleep(2.0)  # every subscriber reading
    writers = [context.Process(target=_write, args=(*dsns, w, results)) for w in range(WRITERS)]
    for writer in writers:
        writer.start()
    appended = sum(results.get(timeout=120) for _ in writers)
    for writer in writers:
        writer.join()
    stop.set()
    for reader in readers:
        reader.join(timeout=30)
    time.sleep(1.0)  # the counters are flushed at the end of each reader's session
    after = (_read_calls(primary), _read_calls(standby))
    live = context.Queue()
    latency = context.Process(target=_live, args=(*dsns, on_replica, live))
    latency.start()
    p50, p99 = live.get(timeout=120)
    latency.join()
    where = "replica" if on_replica else "primary"
    return {
        "impl": "eventhex",
        "db": "postgres",
        "mode": mode,
        "scenario": f"replica_subscribers_on_{where}",
        "n": SUBSCRIBERS,
        "value": appended / SECONDS,
        "unit": "events/s",
        "primary_page_reads": after[0] - before[0],
        "replica_page_reads": after[1] - before[1],
        "live_p50_ms": p50,
        "live_p99_ms": p99,
    }


def run(bench: Bench) -> list[Row]:
    """Both placements per repetition, in alternating order, on one primary/standby pair."""
    mode = bench.options.mode.name
    primary = ThrowawayPostgres(
        prefix="eventhex-bench-primary-", server_defaults=bench.options.mode.server_defaults
    )
    standby = ThrowawayStandby(primary, prefix="eventhex-bench-standby-")
    rows: list[Row] = []
    try:
        primary.start()
        import psycopg

        with psycopg.connect(primary.server.dsn(), autocommit=True) as connection:
            connection.execute("CREATE DATABASE bench")
            connection.execute("ALTER SYSTEM SET track_functions = 'pl'")
            connection.execute("SELECT pg_reload_conf()")
        standby.start()
        context = multiprocessing.get_context("spawn")
        seeding = context.Process(
            target=_seed, args=(primary.server.dsn("bench"), standby.server.dsn("bench"), mode)
        )
        seeding.start()
        seeding.join()
        standby.wait_for_replay()
        for rep in range(bench.options.reps):
            for on_replica in (False, True) if rep % 2 == 0 else (True, False):
                row = _round(primary, standby, mode, on_replica) | {"rep": rep}
                rows.append(row)
                print(
                    f"  subscribers on {row['scenario'].rsplit('_', 1)[-1]} rep {rep}: "
                    f"appends {row['value']:,.0f}/s, page reads primary "
                    f"{row['primary_page_reads']:,} / replica {row['replica_page_reads']:,}, "
                    f"live p50 {row['live_p50_ms']:.1f} ms p99 {row['live_p99_ms']:.1f} ms",
                    flush=True,
                )
    finally:
        standby.close()
        primary.close()
    return rows
