"""Live delivery latency, shared by the ``latency`` and ``subscriptions`` groups.

A writer in another process appends one event at a time at ``rate`` events/s (each append a
unit of work of the run's mode), stamping each with the wall-clock time just before
``append``; a subscriber to category ``live``, started at the store position, records when
each event reaches it. Latency = arrival - stamp, so it includes the append itself, the commit,
the wake-up and the read.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from typing import Any

from benchmarks import _django
from benchmarks._events import order_placed

RATE = 50.0
"""Events per second the writer sends."""


def read_live_latencies(
    builder: Any, mode: str, n: int, deadline: float, ready: Any
) -> list[float]:
    """Milliseconds from each event's ``sent_at`` stamp to its arrival, for up to ``n`` events.

    Args:
        builder: A subscription builder already filtered to the live events.
        mode: ``iter`` (``build_iter(1 s)``) or ``batch`` (``build_batch(10, 0.1 s)``).
        n: How many events the writer sends.
        deadline: ``time.monotonic()`` after which the reader gives up.
        ready: An event set once the subscription is open, so the writer can start.
    """
    latencies: list[float] = []
    if mode == "iter":
        stream = builder.build_iter(1.0)
        next(stream)  # the first call opens the LISTEN connection; then the writer starts
        ready.set()
        while len(latencies) < n and time.monotonic() < deadline:
            record = next(stream)
            if record is not None:
                latencies.append((time.time() - record.wrapped_event.event.sent_at) * 1000)
        return latencies
    batches = builder.build_batch(10, 0.1)
    next(batches)
    ready.set()
    while len(latencies) < n and time.monotonic() < deadline:
        batch = next(batches)
        arrived = time.time()
        latencies.extend((arrived - r.wrapped_event.event.sent_at) * 1000 for r in batch)
    return latencies


def write_live(spec: dict[str, Any], events: int, rate: float, ready: Any) -> None:
    """The writer process: ``events`` single appends at ``rate``/s to category ``live``."""
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning, message="DateTimeField")
    _django.setup(spec["impl"], spec["db"], spec["target"], spec["mode"], migrate=False)
    from django.db import connections
    from event_sourcery import StreamId

    store = _django.backend(spec["impl"]).event_store
    unit = _django.unit(spec["mode"])
    with unit():
        store.append(order_placed(), stream_id=StreamId(category="warm-up"))
    ready.wait(30)
    interval = 1 / rate
    next_at = time.perf_counter()
    for _ in range(events):
        with unit():
            store.append(order_placed(sent_at=time.time()), stream_id=StreamId(category="live"))
        next_at += interval
        time.sleep(max(0.0, next_at - time.perf_counter()))
    connections.close_all()


def live_latency(
    backend: Any, spec: dict[str, Any], mode: str, rate: float = RATE, grace: float = 5.0
) -> dict[str, Any]:
    """Latency percentiles (ms) of ``spec["n"]`` live events read with ``mode`` (``iter`` or
    ``batch``); the reader gives up ``grace`` seconds after the writer should have finished
    and reports how many arrived by then."""
    n = spec["n"]
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=write_live, args=(spec, n, rate, ready))
    writer.start()
    builder = backend.subscriber.start_from(backend.event_store.position or 0).to_category("live")
    deadline = time.monotonic() + n / rate + grace
    latencies = read_live_latencies(builder, mode, n, deadline, ready)
    writer.join(60)
    return latency_result(latencies, n)


def latency_result(latencies: list[float], sent: int) -> dict[str, Any]:
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
