"""The benchmark scenarios, written once against event_sourcery's ``Backend`` API.

Each scenario takes a configured backend (eventhex's or python-event-sourcery 0.6.1's Django
backend) on a fresh, migrated database and returns its measurements. ``value`` is the headline
number (its ``unit`` says what it is); everything else is detail for the JSON lines.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from event_sourcery import StreamId

from benchmarks._events import new_stream, order_placed
from benchmarks._live import read_live_latencies

Result = dict[str, Any]

PROFILER: Any = None
"""A ``cProfile.Profile`` enabled only around the measured part of a scenario, when set."""


@contextmanager
def measured() -> Iterator[None]:
    """Mark the measured part of a scenario (profiled when ``PROFILER`` is set)."""
    if PROFILER is not None:
        PROFILER.enable()
    try:
        yield
    finally:
        if PROFILER is not None:
            PROFILER.disable()


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def seed(backend: Any, events: int, per_append: int = 100, streams: int | None = None) -> int:
    """Append ``events`` events in appends of ``per_append`` to new streams; return the count."""
    store = backend.event_store
    written = 0
    while written < events:
        size = min(per_append, events - written)
        store.append(*[order_placed() for _ in range(size)], stream_id=new_stream("seed"))
        written += size
    return written


def _is_upstream(backend: Any) -> bool:
    return type(backend).__module__.startswith("event_sourcery_django")


def append_single(backend: Any, n: int) -> Result:
    """``n`` appends of one event, each to a new stream (one transaction each)."""
    store = backend.event_store
    store.append(order_placed(), stream_id=new_stream())  # warm-up: first queries, caches
    events = [order_placed() for _ in range(n)]
    streams = [new_stream() for _ in range(n)]
    started = time.perf_counter()
    with measured():
        for event, stream in zip(events, streams, strict=True):
            store.append(event, stream_id=stream)
    elapsed = time.perf_counter() - started
    return {"value": _rate(n, elapsed), "unit": "events/s", "events": n, "seconds": elapsed}


def append_batch(backend: Any, n: int, size: int = 10) -> Result:
    """``n`` appends of ``size`` events, each to a new stream."""
    store = backend.event_store
    store.append(*[order_placed() for _ in range(size)], stream_id=new_stream())
    batches = [[order_placed() for _ in range(size)] for _ in range(n)]
    streams = [new_stream() for _ in range(n)]
    started = time.perf_counter()
    with measured():
        for batch, stream in zip(batches, streams, strict=True):
            store.append(*batch, stream_id=stream)
    elapsed = time.perf_counter() - started
    events = n * size
    return {
        "value": _rate(events, elapsed),
        "unit": "events/s",
        "events": events,
        "seconds": elapsed,
    }


def append_versioned(backend: Any, n: int) -> Result:
    """``n`` appends of one event to one stream, each with the expected version."""
    store = backend.event_store
    stream = new_stream()
    store.append(order_placed(), stream_id=stream, expected_version=0)
    events = [order_placed() for _ in range(n)]
    started = time.perf_counter()
    with measured():
        for version, event in enumerate(events, start=1):
            store.append(event, stream_id=stream, expected_version=version)
    elapsed = time.perf_counter() - started
    return {"value": _rate(n, elapsed), "unit": "events/s", "events": n, "seconds": elapsed}


def load_stream(backend: Any, n: int, loads: int = 7) -> Result:
    """Load a stream of ``n`` events ``loads`` times; the value is the median milliseconds."""
    store = backend.event_store
    stream = new_stream()
    for start in range(0, n, 100):
        size = min(100, n - start)
        events = [order_placed() for _ in range(size)]
        store.append(*events, stream_id=stream, expected_version=start)
    assert len(store.load_stream(stream)) == n  # warm-up and sanity
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        with measured():
            loaded = store.load_stream(stream)
        times.append(time.perf_counter() - started)
        assert len(loaded) == n
    median = statistics.median(times)
    return {
        "value": median * 1000,
        "unit": "ms",
        "events": n,
        "loads_ms": [t * 1000 for t in times],
    }


def catch_up(backend: Any, n: int, batch: int = 500, rounds: int = 1) -> Result:
    """Seed ``n`` events, then read them all from position 0 with ``build_batch(batch)``.

    Every round is a new subscription over the same events; the value is the median events/s.
    """
    seed(backend, n)
    rates = []
    for _ in range(rounds):
        received = 0
        started = time.perf_counter()
        with measured():
            subscription = backend.subscriber.start_from(0).build_batch(batch, timelimit=1)
            while received < n:
                records = next(subscription)
                received += len(records)
        rates.append(_rate(received, time.perf_counter() - started))
    return {
        "value": statistics.median(rates),
        "unit": "events/s",
        "events": n,
        "rates": rates,
        "batch": batch,
    }


def outbox_drain(backend: Any, n: int, limit: int = 500) -> Result:
    """Seed ``n`` outbox entries (appends of 100), then drain them with ``Outbox.run``.

    python-event-sourcery's Django outbox locks rows with ``select_for_update`` and must run in
    a transaction, so its runs are wrapped in ``transaction.atomic()`` as its usage requires;
    eventhex's outbox manages its own transactions.
    """
    from contextlib import nullcontext

    from django.db import transaction

    seed(backend, n)
    wrap = transaction.atomic if _is_upstream(backend) else nullcontext
    # The publisher keeps each record's position, not the record: a list of 20,000 records
    # would make Python's cyclic collector re-walk them all on every full collection, a cost of
    # the benchmark's bookkeeping (and ~35 % of eventhex's time), not of the outbox.
    published: list[int] = []

    def publish(record: Any) -> None:
        published.append(record.position)

    outbox = backend.outbox
    started = time.perf_counter()
    with measured():
        while True:
            before = len(published)
            with wrap():
                outbox.run(publish, limit=limit)
            if len(published) == before:
                break
    elapsed = time.perf_counter() - started
    if len(published) != n or len(set(published)) != n:
        raise AssertionError(f"drained {len(set(published))} distinct of {n} outbox entries")
    return {"value": _rate(n, elapsed), "unit": "messages/s", "messages": n, "seconds": elapsed}


def outbox_streams(backend: Any, n: int, streams: int, limit: int = 500) -> Result:
    """Drain ``n`` outbox entries over ``streams`` streams with ``Outbox.run`` (issue 15).

    The streams are filled in turns of up to 100 events each, so that their entries interleave
    as live traffic's do; every stream's events must be published in version order.
    """
    ids = [new_stream("hot") for _ in range(streams)]
    per_stream = n // streams
    for start in range(0, per_stream, 100):
        size = min(100, per_stream - start)
        for stream in ids:
            events = [order_placed() for _ in range(size)]
            backend.event_store.append(*events, stream_id=stream, expected_version=start)
    published: list[tuple[str | None, int | None]] = []

    def publish(record: Any) -> None:
        published.append((record.stream_id.name, record.wrapped_event.version))

    outbox = backend.outbox
    started = time.perf_counter()
    with measured():
        while True:
            before = len(published)
            outbox.run(publish, limit=limit)
            if len(published) == before:
                break
    elapsed = time.perf_counter() - started
    versions: dict[str | None, list[int | None]] = {}
    for name, version in published:
        versions.setdefault(name, []).append(version)
    if any(got != list(range(1, per_stream + 1)) for got in versions.values()):
        raise AssertionError("Outbox.run broke a stream's order")
    if len(published) != per_stream * streams:
        raise AssertionError(f"drained {len(published)} of {per_stream * streams} entries")
    return {"value": _rate(len(published), elapsed), "unit": "messages/s", "seconds": elapsed}


def _write_live(spec: dict[str, Any], events: int, rate: float, ready: Any) -> None:
    """The writer process of :func:`latency`: ``events`` single appends at ``rate``/s."""
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning, message="DateTimeField")
    from benchmarks import _django

    _django.setup(spec["impl"], spec["db"], spec["target"], migrate=False)
    from django.db import connections

    store = _django.backend(spec["impl"]).event_store
    store.append(order_placed(), stream_id=StreamId(category="warm-up"))
    ready.wait(30)
    interval = 1 / rate
    next_at = time.perf_counter()
    for _ in range(events):
        store.append(order_placed(sent_at=time.time()), stream_id=StreamId(category="live"))
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    connections.close_all()


def latency(
    backend: Any, spec: dict[str, Any], mode: str, rate: float = 50.0, grace: float = 5.0
) -> Result:
    """Live delivery latency, the method of the subscription engineer's ``latency.py``.

    A writer process appends ``n`` events at ``rate``/s, stamping each just before ``append``;
    a subscriber to category ``live`` started at the store position reads them with
    ``build_iter(1 s)`` or ``build_batch(10, 0.1 s)``. Latency = arrival - stamp. The reader
    gives up ``grace`` seconds after the writer should have finished (it reports how many
    events arrived by then).
    """
    import multiprocessing

    n = spec["n"]
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=_write_live, args=(spec, n, rate, ready))
    writer.start()
    builder = backend.subscriber.start_from(backend.event_store.position or 0)
    builder = builder.to_category("live")
    deadline = time.monotonic() + n / rate + grace
    latencies = read_live_latencies(builder, mode, n, deadline, ready)
    writer.join(60)
    return latency_result(latencies, n)


def latency_result(latencies: list[float], sent: int) -> Result:
    """p50 (the value), p95, p99 and max in milliseconds."""
    if len(latencies) < 2:
        return {
            "value": latencies[0] if latencies else float("nan"),
            "unit": "ms p50",
            "received": len(latencies),
            "sent": sent,
        }
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "value": statistics.median(latencies),
        "unit": "ms p50",
        "p95": cuts[94],
        "p99": cuts[98],
        "max": max(latencies),
        "received": len(latencies),
        "sent": sent,
    }


SCENARIOS: dict[str, Callable[..., Result]] = {
    "append_single": append_single,
    "append_batch10": append_batch,
    "append_versioned": append_versioned,
    "load_1000": load_stream,
    "catchup": catch_up,
    "outbox_drain": outbox_drain,
    "outbox_many_streams": lambda backend, n: outbox_streams(backend, n, max(1, n // 5)),
    "outbox_ten_streams": lambda backend, n: outbox_streams(backend, n, 10),
    "outbox_one_stream": lambda backend, n: outbox_streams(backend, n, 1),
}


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def catch_up_memory(backend: Any, n: int, batch: int = 1000) -> Result:
    """Seed ``n`` events, then read them all with ``build_batch(batch)`` keeping nothing.

    Pass 1 measures the resident set: the kernel's peak (``VmHWM``) is reset just before the
    catch-up, so the growth is what the catch-up itself added. Pass 2 runs under tracemalloc
    and reports the peak of Python allocations during the catch-up.
    """
    import gc
    import tracemalloc

    seed(backend, n, per_append=1000)
    gc.collect()

    def read_all() -> float:
        received = 0
        started = time.perf_counter()
        subscription = backend.subscriber.start_from(0).build_batch(batch, timelimit=1)
        while received < n:
            received += len(next(subscription))
        return received / (time.perf_counter() - started)

    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak resident set size (VmHWM)
    before = _rss_kib("VmRSS")
    rate = read_all()
    peak = _rss_kib("VmHWM")
    gc.collect()
    tracemalloc.start()
    read_all()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "value": rate,
        "unit": "events/s",
        "kind": "memory",
        "events": n,
        "events_per_s": rate,
        "peak_rss_mib": peak / 1024,
        "rss_growth_mib": (peak - before) / 1024,
        "tracemalloc_peak_mib": traced_peak / 2**20,
        "batch": batch,
    }


SCENARIOS["catchup_memory"] = catch_up_memory
