"""The reading half of the live-latency benchmarks, shared by ``latency.py`` and ``scenarios``."""

import time
from typing import Any


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
