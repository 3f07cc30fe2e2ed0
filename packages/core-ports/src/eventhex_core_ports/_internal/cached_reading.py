"""A value read from a slow source (a database) at most once per interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["CachedReading"]

T = TypeVar("T")


class CachedReading(Generic[T]):
    """A value read at most once per ``max_age`` seconds, failures included.

    While one thread reads a fresh value the others get the previous one at once (only the very
    first reading makes callers wait), so a slow query never queues up scrapes behind it.

    Args:
        read: Reads the value (a database query, say).
        max_age: Seconds a reading is served before the next call reads again.
    """

    def __init__(self, read: Callable[[], T], max_age: float) -> None:
        self._read = read
        self._max_age = max_age
        self._reading = threading.Lock()
        self._read_at: float | None = None
        self._value: T | None = None
        self._error: Exception | None = None

    def get(self) -> T:
        """The latest reading.

        Raises:
            RuntimeError: The latest reading failed (the cause is chained).
        """
        stale = self._read_at is None or time.monotonic() - self._read_at >= self._max_age
        if stale and self._reading.acquire(blocking=self._read_at is None):
            try:
                if self._read_at is None or time.monotonic() - self._read_at >= self._max_age:
                    self._refresh()
            finally:
                self._reading.release()
        if self._error is not None:
            raise RuntimeError("reading unavailable") from self._error
        return self._value  # type: ignore[return-value]  # set by the first refresh

    def _refresh(self) -> None:
        try:
            self._value, self._error = self._read(), None
        except Exception as error:
            self._error = error
        self._read_at = time.monotonic()
