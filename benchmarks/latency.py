"""The ``subscriptions`` group (``python -m benchmarks subscriptions``, not part of ``all``):
eventhex alone, live latency and catch-up per selection, as one table.

Live latency: see :mod:`benchmarks._live` (``build_iter`` with a 1 s time limit, and
``build_batch(10)`` with the minimum 0.1 s time limit).

Catch-up: 20,000 events are appended in appends of 100, then subscriptions from the
position before them read them all with ``build_batch(500)``; the rate is events per second,
best of three. ``strategy only`` reads ``RecordedRaw`` batches straight from the subscription
strategy, without event_sourcery's deserialisation. The ``catchup`` group compares catch-up with
upstream in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchmarks import _events
from benchmarks._bench import Bench, Row
from benchmarks._live import RATE, live_latency
from benchmarks.scenarios import seed

__all__ = ["catch_up", "run", "subscriptions"]

LIVE_EVENTS = 500
CATCH_UP_EVENTS = 20_000


def catch_up(backend: Any, events: int, batch: int = 500, rounds: int = 3) -> dict[str, Any]:
    """Seed ``events`` events, then the best rate (events/s) of reading them all, per selection."""
    start = backend.event_store.position or 0
    seed(backend, events)
    builders: dict[str, Callable[[], Any]] = {
        "all": lambda: backend.subscriber.start_from(start).build_batch(batch, 1),
        "category": lambda: (
            backend.subscriber.start_from(start).to_category("order").build_batch(batch, 1)
        ),
        "event type": lambda: (
            backend.subscriber.start_from(start).to_events([_events.Written]).build_batch(batch, 1)
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
    live = [live_latency(backend, spec, mode) for mode in ("iter", "batch")]
    rates = catch_up(backend, catch_up_events)
    lines = [
        f"live: {events} events at {RATE:g}/s",
        f"{'live latency (ms)':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  received",
    ]
    labels = {"iter": "build_iter(1 s)", "batch": "build_batch(10, 0.1 s)"}
    for mode, row in zip(("iter", "batch"), live, strict=True):
        lines.append(
            f"{labels[mode]:<28}{row['value']:>8.1f}{row['p95']:>8.1f}{row['p99']:>8.1f}"
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
