"""The measured part of a scenario, which a profile covers (and nothing else: not the set-up,
not the seeding), and where its wall-clock time went.

Inside :func:`measured` the worker adds up the wall-clock time, this process's CPU time (and
the part of it Python's cyclic garbage collector took) and, when the scenario registered its
connection's server process with :func:`watch_backend`, that PostgreSQL backend's CPU time
(the server runs on the same machine, so ``/proc`` has it). What is left of the wall-clock time
is waiting: for the disk to flush the write-ahead log on COMMIT, for locks, and on a shared
2-core machine for a core.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PROFILER: Any = None
"""A ``cProfile.Profile`` enabled only inside :func:`measured`, when set."""

_spent = {"wall_s": 0.0, "cpu_s": 0.0, "gc_s": 0.0, "server_cpu_s": 0.0}
_backends: list[int] = []
_state = {"inside": False, "gc_started": 0.0}
_TICK = os.sysconf("SC_CLK_TCK")


def watch_backend(pid: int) -> None:
    """Count the CPU time of the PostgreSQL backend ``pid`` in the measured parts."""
    if pid not in _backends:
        _backends.append(pid)


def _backend_cpu() -> float:
    total = 0.0
    for pid in _backends:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the backend ended
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
    return total


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if not _state["inside"]:
        return
    if phase == "start":
        _state["gc_started"] = time.perf_counter()
    else:
        _spent["gc_s"] += time.perf_counter() - _state["gc_started"]


gc.callbacks.append(_on_gc)


@dataclass
class Clock:
    """The wall-clock seconds of one measured part, set when the part ends."""

    seconds: float = 0.0


@contextmanager
def measured() -> Iterator[Clock]:
    """Mark the measured part of a scenario (profiled when ``PROFILER`` is set); the clock it
    yields holds the part's wall-clock seconds once it ends.

    The part starts after a full collection, outside its clock, for every contender alike: the
    objects of the set-up and the seeding are theirs, and so is a collection they made due (it
    would otherwise land in whatever ran next: a 20,000-event catch-up paid a 27 ms full
    collection owed by its seeding). What the part itself allocates is collected inside it.
    """
    gc.collect()
    clock = Clock()
    server = _backend_cpu()
    wall, cpu = time.perf_counter(), time.process_time()
    _state["inside"] = True
    if PROFILER is not None:
        PROFILER.enable()
    try:
        yield clock
    finally:
        if PROFILER is not None:
            PROFILER.disable()
        _state["inside"] = False
        clock.seconds = time.perf_counter() - wall
        _spent["wall_s"] += clock.seconds
        _spent["cpu_s"] += time.process_time() - cpu
        _spent["server_cpu_s"] += _backend_cpu() - server


def spent() -> dict[str, float]:
    """The measured parts' seconds so far, as ``measured_*`` fields (``measured_server_cpu_s``
    only when a backend was watched)."""
    fields = {f"measured_{key}": value for key, value in _spent.items()}
    if not _backends:
        del fields["measured_server_cpu_s"]
    return fields
