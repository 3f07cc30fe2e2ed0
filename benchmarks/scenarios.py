"""The benchmark scenarios, written once against event_sourcery's ``Backend`` API.

Each scenario takes a configured backend (eventhex's or python-event-sourcery 0.6.1's Django
backend) on a fresh, migrated database, the size, and the mode's unit of work
(``transaction.atomic`` in the headline mode, nothing in the CPU-only mode), and returns its
measurements. ``value`` is the headline number (its ``unit`` says what it is); everything else
is detail for the JSON lines. Seeding happens outside the clock, with commits that do not wait
for the disk, and never runs ``ANALYZE``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks._django import Unit, unmeasured_commits
from benchmarks._events import new_stream, written
from benchmarks._measured import measured
from benchmarks.floor import reset_peak_rss, rss_kib

Result = dict[str, Any]


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def seed(backend: Any, events: int, per_append: int = 100) -> int:
    """Append ``events`` events in appends of ``per_append`` to new streams; return the count."""
    store = backend.event_store
    written_so_far = 0
    with unmeasured_commits():
        while written_so_far < events:
            size = min(per_append, events - written_so_far)
            store.append(*[written() for _ in range(size)], stream_id=new_stream("seed"))
            written_so_far += size
    return written_so_far


def _is_upstream(backend: Any) -> bool:
    return type(backend).__module__.startswith("event_sourcery_django")


def append_single(backend: Any, n: int, unit: Unit) -> Result:
    """``n`` appends of one event, each to a new stream, each its own unit of work."""
    return append_batch(backend, n, unit, size=1)


def append_batch(backend: Any, n: int, unit: Unit, size: int = 10) -> Result:
    """``n`` appends of ``size`` events, each to a new stream, each its own unit of work."""
    store = backend.event_store
    with unit():
        store.append(*[written() for _ in range(size)], stream_id=new_stream())  # warm-up
    batches = [[written() for _ in range(size)] for _ in range(n)]
    streams = [new_stream() for _ in range(n)]
    with measured() as clock:
        for batch, stream in zip(batches, streams, strict=True):
            with unit():
                store.append(*batch, stream_id=stream)
    elapsed = clock.seconds
    events = n * size
    rate = _rate(events, elapsed)
    return {"value": rate, "unit": "events/s", "events": events, "seconds": elapsed}


def append_versioned(backend: Any, n: int, unit: Unit) -> Result:
    """``n`` appends of one event to one stream, each with the expected version."""
    store = backend.event_store
    stream = new_stream()
    with unit():
        store.append(written(), stream_id=stream, expected_version=0)
    events = [written() for _ in range(n)]
    with measured() as clock:
        for version, event in enumerate(events, start=1):
            with unit():
                store.append(event, stream_id=stream, expected_version=version)
    elapsed = clock.seconds
    return {"value": _rate(n, elapsed), "unit": "events/s", "events": n, "seconds": elapsed}


def load_stream(backend: Any, n: int, unit: Unit, loads: int = 7) -> Result:
    """Load a stream of ``n`` events ``loads`` times, each load a unit of work (a command
    handler loads, then appends); the value is the median milliseconds."""
    store = backend.event_store
    stream = new_stream()
    with unmeasured_commits():
        for start in range(0, n, 100):
            size = min(100, n - start)
            events = [written() for _ in range(size)]
            store.append(*events, stream_id=stream, expected_version=start)
    with unit():
        assert len(store.load_stream(stream)) == n  # warm-up and sanity
    times = []
    for _ in range(loads):
        with measured() as clock, unit():
            loaded = store.load_stream(stream)
        times.append(clock.seconds)
        assert len(loaded) == n
    median = statistics.median(times)
    return {
        "value": median * 1000,
        "unit": "ms",
        "events": n,
        "loads_ms": [t * 1000 for t in times],
    }


def catch_up(backend: Any, n: int, unit: Unit, batch: int = 500) -> Result:
    """Seed ``n`` events, then read them all from position 0 with ``build_batch(batch)``,
    outside a transaction (as a subscriber process does), keeping nothing.

    Also reports the resident set: the kernel's peak (``VmHWM``) is reset just before the
    read, so its growth is what the catch-up itself added.
    """
    del unit  # a subscriber reads outside the caller's transaction in both modes
    seed(backend, n)
    statistics_before = table_statistics()
    before = reset_peak_rss()
    received = 0
    with measured() as clock:
        subscription = backend.subscriber.start_from(0).build_batch(batch, timelimit=1)
        while received < n:
            received += len(next(subscription))
    elapsed = clock.seconds
    peak = rss_kib("VmHWM")
    return {
        "value": _rate(received, elapsed),
        "unit": "events/s",
        "events": n,
        "batch": batch,
        "rss_growth_mib": (peak - before) / 1024,
        "peak_rss_mib": peak / 1024,
        "statistics_before": statistics_before,
        "statistics_after": table_statistics(),
    }


def table_statistics() -> str:
    """How often autovacuum has analyzed and vacuumed the events table (PostgreSQL), as a
    short note: a catch-up that ran beside autovacuum shows it in ``statistics_after``."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return "n/a"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_mod_since_analyze, analyze_count + autoanalyze_count, "
            "vacuum_count + autovacuum_count FROM pg_stat_user_tables "
            "WHERE relname IN ('eventhex_event', 'event_sourcery_django_event')"
        )
        rows = cursor.fetchall()
    return "; ".join(
        f"{t}: analyzed {a}x, {m} rows changed since, vacuumed {v}x" for t, m, a, v in rows
    )


def outbox_drain(backend: Any, n: int, unit: Unit, limit: int = 500) -> Result:
    """Seed ``n`` outbox entries (appends of 100), then drain them with ``Outbox.run``.

    python-event-sourcery's Django outbox locks rows with ``select_for_update`` and must run in
    a transaction, so its runs are wrapped in ``transaction.atomic()`` as its usage requires;
    eventhex's outbox manages its own transactions.
    """
    from contextlib import nullcontext

    from django.db import transaction

    del unit
    seed(backend, n)
    wrap = transaction.atomic if _is_upstream(backend) else nullcontext
    # The publisher keeps each record's position, not the record: a list of 20,000 records
    # would make Python's cyclic collector re-walk them all on every full collection, a cost of
    # the benchmark's bookkeeping, not of the outbox.
    published: list[int] = []

    def publish(record: Any) -> None:
        published.append(record.position)

    outbox = backend.outbox
    with measured() as clock:
        while True:
            before = len(published)
            with wrap():
                outbox.run(publish, limit=limit)
            if len(published) == before:
                break
    elapsed = clock.seconds
    if len(published) != n or len(set(published)) != n:
        raise AssertionError(f"drained {len(set(published))} distinct of {n} outbox entries")
    return {"value": _rate(n, elapsed), "unit": "messages/s", "messages": n, "seconds": elapsed}


def _atomic() -> Any:
    from django.db import transaction

    return transaction.atomic()


def outbox_streams(
    backend: Any, n: int, streams: int, limit: int = 500, unit: Unit | None = None
) -> Result:
    """Drain ``n`` outbox entries over ``streams`` streams with ``Outbox.run`` (issue 15), each
    run in ``unit`` when given (the deep streams of issue 32: each run in ``atomic()``).

    The streams are filled in turns of up to 100 events each, so that their entries interleave
    as live traffic's do; every stream's events must be published in version order.
    """
    from contextlib import nullcontext

    wrap = unit or nullcontext
    ids = [new_stream("hot") for _ in range(streams)]
    per_stream = n // streams
    with unmeasured_commits():
        for start in range(0, per_stream, 100):
            size = min(100, per_stream - start)
            for stream in ids:
                events = [written() for _ in range(size)]
                backend.event_store.append(*events, stream_id=stream, expected_version=start)
    published: list[tuple[str | None, int | None]] = []

    def publish(record: Any) -> None:
        published.append((record.stream_id.name, record.wrapped_event.version))

    outbox = backend.outbox
    with measured() as clock:
        while True:
            before = len(published)
            with wrap():
                outbox.run(publish, limit=limit)
            if len(published) == before:
                break
    elapsed = clock.seconds
    versions: dict[str | None, list[int | None]] = {}
    for name, version in published:
        versions.setdefault(name, []).append(version)
    if any(got != list(range(1, per_stream + 1)) for got in versions.values()):
        raise AssertionError("Outbox.run broke a stream's order")
    if len(published) != per_stream * streams:
        raise AssertionError(f"drained {len(published)} of {per_stream * streams} entries")
    return {"value": _rate(len(published), elapsed), "unit": "messages/s", "seconds": elapsed}


DEEP_STREAMS = 50
"""The streams of ``outbox_deep`` (its entries spread evenly over them: 100 each of 5,000)."""

SCENARIOS: dict[str, Callable[[Any, int, Unit], Result]] = {
    "append_single": append_single,
    "append_batch10": append_batch,
    "append_versioned": append_versioned,
    "load_1000": load_stream,
    "catchup": catch_up,
    "catchup_1m": catch_up,
    "outbox_drain": outbox_drain,
    # Outbox.run manages its own transactions: the unit of work does not apply (issue 15).
    "outbox_many_streams": lambda backend, n, _: outbox_streams(backend, n, max(1, n // 5)),
    "outbox_ten_streams": lambda backend, n, _: outbox_streams(backend, n, 10),
    "outbox_one_stream": lambda backend, n, _: outbox_streams(backend, n, 1),
    # Deep streams (issue 32): 50 streams, drained 100 at a time, each run in the unit of work.
    # per atomic() in both modes: the scenario is the caller's transaction (0.6.1 needs one)
    "outbox_deep": lambda backend, n, unit: outbox_streams(backend, n, DEEP_STREAMS, 100, _atomic),
}
