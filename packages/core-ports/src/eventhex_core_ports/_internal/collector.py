"""Pausing Python's automatic cyclic garbage collector while a read builds its records.

A page of a subscription, or a loaded stream, is hundreds of records built at once, about ten
small container objects each, all alive until the page is returned. While they are built,
every 700 allocations start a young collection that walks them and finds nothing to free, and
the survivors soon count towards a full collection, which walks the application's whole heap
as well (a Django process holds some 80,000 objects; three full collections were a third of a
20,000-event catch-up). Nothing a read builds is cyclic garbage, so the collector is paused
for the page and resumes when the page is done; the allocations still count, so the next
allocation after the page starts the collection that was due.

The pause is process-wide (``gc.disable`` is) and shared by threads: the first reader to enter
pauses the collector if it was enabled, the last to leave enables it again, and a collector
that was disabled when the first reader entered stays disabled. Garbage other threads make in
the meantime (a page is milliseconds) is collected when the collector resumes.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_lock = threading.Lock()
_readers = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic garbage collection for the block (see the module's docstring)."""
    global _readers, _resume
    with _lock:
        if _readers == 0:
            _resume = gc.isenabled()
            if _resume:
                gc.disable()
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _resume:
                gc.enable()
