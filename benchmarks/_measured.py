"""The measured part of a scenario, which a profile covers (and nothing else: not the set-up,
not the seeding), and how much of its wall-clock time the process spent on the CPU.

Wall-clock time minus this process's CPU time is time spent waiting: for PostgreSQL to run the
statements and, on COMMIT, to flush the write-ahead log to disk; on a shared 2-core machine also
for a core.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PROFILER: Any = None
"""A ``cProfile.Profile`` enabled only inside :func:`measured`, when set."""

_spent = {"wall_s": 0.0, "cpu_s": 0.0}


@contextmanager
def measured() -> Iterator[None]:
    """Mark the measured part of a scenario (profiled when ``PROFILER`` is set)."""
    wall, cpu = time.perf_counter(), time.process_time()
    if PROFILER is not None:
        PROFILER.enable()
    try:
        yield
    finally:
        if PROFILER is not None:
            PROFILER.disable()
        _spent["wall_s"] += time.perf_counter() - wall
        _spent["cpu_s"] += time.process_time() - cpu


def spent() -> dict[str, float]:
    """Wall-clock and CPU seconds of the measured parts so far, as ``measured_*`` fields."""
    return {f"measured_{key}": value for key, value in _spent.items()}
