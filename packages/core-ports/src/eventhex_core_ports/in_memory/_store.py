"""The in-memory event log shared by every tenant view of an in-memory backend."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from event_sourcery.event import RawEvent, RecordedRaw

from eventhex_core_ports.in_memory._outbox_table import OutboxTable

StreamKey = tuple[str, str, UUID]
"""(tenant, category, uuid): what identifies a stream."""


@dataclass
class StreamState:
    """One stream: its name, version (None when unversioned), events and snapshots."""

    name: str | None
    version: int | None
    events: list[RecordedRaw] = field(default_factory=list)
    snapshots: list[RawEvent] = field(default_factory=list)


class InMemoryStore:
    """Streams, the global log, the outbox and a condition readers wait on.

    ``transaction()`` makes a block atomic: on an exception every change made inside it,
    nested appends included, is undone. One re-entrant lock serialises writers, so log order is
    commit order, as on SQLite. ``event_uuids`` holds the uuid of every event in ``log``: the
    store-wide uniqueness that a database's unique index gives. ``outbox`` is the one table that
    appends write and both ``Outbox.run`` and the relay source read.

    Args:
        clock: Returns the current time (aware, UTC): outbox leases and retry times are read
            against it.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or _utc_now
        self.streams: dict[StreamKey, StreamState] = {}
        self.log: list[RecordedRaw] = []
        self.event_uuids: set[UUID] = set()
        self.outbox = OutboxTable()
        self.last_position = 0
        self.changed = threading.Condition(threading.RLock())
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block atomically; waiting readers wake when the outermost block commits."""
        with self.changed:
            saved = self._snapshot() if self._depth == 0 else None
            self._depth += 1
            try:
                yield
            except BaseException:
                if saved is not None:
                    self._restore(saved)
                raise
            finally:
                self._depth -= 1
            if self._depth == 0:
                self.changed.notify_all()

    def _snapshot(self) -> tuple[object, ...]:
        streams = {
            key: StreamState(s.name, s.version, list(s.events), list(s.snapshots))
            for key, s in self.streams.items()
        }
        return streams, list(self.log), self.outbox.snapshot(), self.last_position

    def _restore(self, saved: tuple[object, ...]) -> None:
        streams, log, outbox, last_position = saved
        self.streams = streams  # type: ignore[assignment]
        self.log = log  # type: ignore[assignment]
        self.event_uuids = {record.entry.uuid for record in self.log}
        self.outbox.restore(outbox)  # type: ignore[arg-type]
        self.last_position = last_position  # type: ignore[assignment]


def _utc_now() -> datetime:
    return datetime.now(UTC)
