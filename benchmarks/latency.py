"""Subscription benchmarks on PostgreSQL: live delivery latency and catch-up throughput.

:func:`live_latency` measures eventhex in the ``latency`` group. The ``subscriptions`` group
(``python -m benchmarks subscriptions``, not part of ``all``) runs both benchmarks on eventhex
alone in one worker and reports a table.

Live latency: a writer in another process appends one event at a time at ``--rate`` events/s,
stamping each with the wall-clock time just before ``append``; a subscriber started at the store
position (``build_iter`` with a 1 s time limit, or ``build_batch(10)`` with the minimum 0.1 s
time limit) records when each event reaches it. Latency = arrival - stamp, so it includes the
append itself, the commit, the wake-up and the read.

Catch-up: 20,000 events are appended in appends of 100, then subscriptions from the
position before them read them all with ``build_batch(500)``; the rate is events per second,
best of three. ``strategy only`` reads ``RecordedRaw`` batches straight from the subscription
strategy, without event_sourcery's deserialisation. The ``catchup`` group compares catch-up with
upstream in the same run.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchmarks import _django, _events
from benchmarks._bench import Bench, Row
from benchmarks._live import read_live_latencies

__all__ = ["catch_up", "live_latency", "run", "subscriptions"]

LIVE_EVENTS = 500
RATE = 50.0
CATCH_UP_EVENTS = 20_000


def _write_live(dsn: str, events: int, rate: float, ready: Any) -> None:
    _django.setup("eventhex", "postgres", dsn, migrate=False)
    from django.db import connections
    from event_sourcery import StreamId

    store = _django.backend("eventhex").event_store
    store.append(_events.order_placed(), stream_id=StreamId(category="warm-up"))
    ready.wait(30)
    interval = 1 / rate
    next_at = time.perf_counter()
    for _ in range(events):
        store.append(_events.order_placed(sent_at=time.time()), stream_id=StreamId(category="live"))
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    connections.close_all()


def live_latency(backend: Any, dsn: str, events: int, mode: str, rate: float) -> dict[str, Any]:
    """Latency percentiles (ms) of ``events`` live events read with ``mode`` (iter or batch)."""
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=_write_live, args=(dsn, events, rate, ready))
    writer.start()
    builder = backend.subscriber.start_from(backend.event_store.position or 0).to_category("live")
    deadline = time.monotonic() + events / rate + 60
    latencies = read_live_latencies(builder, mode, events, deadline, ready)
    writer.join(60)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "mode": mode,
        "received": len(latencies),
        "sent": events,
        "p50": statistics.median(latencies),
        "p95": cuts[94],
        "p99": cuts[98],
        "max": max(latencies),
    }


def catch_up(backend: Any, events: int, batch: int = 500, rounds: int = 3) -> dict[str, Any]:
    """Seed ``events`` events, then the best rate (events/s) of reading them all, per selection."""
    from event_sourcery import StreamId

    store = backend.event_store
    start = store.position or 0
    for first in range(0, events, 100):
        size = min(100, events - first)
        stream = StreamId(category="catch-up")
        store.append(*(_events.order_placed() for _ in range(size)), stream_id=stream)
    builders: dict[str, Callable[[], Any]] = {
        "all": lambda: backend.subscriber.start_from(start).build_batch(batch, 1),
        "category": lambda: (
            backend.subscriber.start_from(start).to_category("catch-up").build_batch(batch, 1)
        ),
        "event type": lambda: (
            backend.subscriber.start_from(start)
            .to_events([_events.OrderPlaced])
            .build_batch(batch, 1)
        ),
        "all, strategy only (raw)": lambda: backend.container.subscription().subscribe_to_all(
            start, batch, timedelta(seconds=1)
        ),
    }
    rates: dict[str, Any] = {}
    for name, build in builders.items():
        best = 0.0
        for _ in range(rounds):
            received = 0
            started = time.perf_counter()
            batches = build()
            while received < events:
                received += len(next(batches))
            best = max(best, received / (time.perf_counter() - started))
        rates[name] = best
    return rates


def subscriptions(backend: Any, spec: dict[str, Any]) -> Row:
    """In a worker: live latency in both modes, then catch-up per selection, as a table."""
    events, catch_up_events = spec["n"], spec["catch_up"]
    live = [live_latency(backend, spec["target"], events, mode, RATE) for mode in ("iter", "batch")]
    rates = catch_up(backend, catch_up_events)
    lines = [
        f"live: {events} events at {RATE:g}/s",
        f"{'live latency (ms)':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  received",
    ]
    labels = {"iter": "build_iter(1 s)", "batch": "build_batch(10, 0.1 s)"}
    for row in live:
        lines.append(
            f"{labels[row['mode']]:<28}{row['p50']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}"
            f"{row['max']:>8.1f}  {row['received']}/{row['sent']}"
        )
    lines += ["", f"catch-up, build_batch(500), {catch_up_events} events"]
    lines += [f"{name:<28}{rate:>10,.0f} events/s" for name, rate in rates.items()]
    return {"kind": "section", "title": "Subscriptions (eventhex)", "text": "\n".join(lines)}


def run(bench: Bench) -> list[Row]:
    """The ``subscriptions`` group: :func:`subscriptions` in a worker on a fresh database."""
    spec = {
        "impl": "eventhex",
        "db": "postgres",
        "scenario": "subscriptions",
        "n": bench.size(LIVE_EVENTS),
        "catch_up": bench.size(CATCH_UP_EVENTS),
    }
    row = bench.measure(spec, prefix="latency")
    print("    " + "\n    ".join(row.get("text", row.get("error", "")).splitlines()), flush=True)
    return [row]
