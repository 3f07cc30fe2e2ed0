"""In-memory ``SubscriptionStrategy``: readers wait on the store's condition, never on a timer."""

import bisect
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from event_sourcery.event import Position, RecordedRaw
from event_sourcery.interfaces import SubscriptionStrategy

from eventhex_core_ports.in_memory._store import InMemoryStore

__all__ = ["InMemorySubscriptionStrategy"]

RecordFilter = Callable[[RecordedRaw], bool]


@dataclass(frozen=True)
class InMemorySubscriptionStrategy(SubscriptionStrategy):
    """Subscriptions over the store's log, in log (= commit) order."""

    store: InMemoryStore

    def subscribe_to_all(
        self, start_from: Position, batch_size: int, timelimit: timedelta
    ) -> Iterator[list[RecordedRaw]]:
        return self._batches(start_from, batch_size, timelimit, lambda _: True)

    def subscribe_to_category(
        self, start_from: Position, batch_size: int, timelimit: timedelta, category: str
    ) -> Iterator[list[RecordedRaw]]:
        return self._batches(
            start_from,
            batch_size,
            timelimit,
            lambda r: (r.entry.stream_id.category or "") == category,
        )

    def subscribe_to_events(
        self, start_from: Position, batch_size: int, timelimit: timedelta, events: list[str]
    ) -> Iterator[list[RecordedRaw]]:
        names = frozenset(events)
        return self._batches(start_from, batch_size, timelimit, lambda r: r.entry.name in names)

    def _batches(
        self,
        start_from: Position | None,
        batch_size: int,
        timelimit: timedelta,
        accepts: RecordFilter,
    ) -> Iterator[list[RecordedRaw]]:
        position = start_from or 0
        while True:
            batch = self._next_batch(position, batch_size, timelimit.total_seconds(), accepts)
            if batch:
                position = batch[-1].position
            yield batch

    def _next_batch(
        self, after: Position, size: int, seconds: float, accepts: RecordFilter
    ) -> list[RecordedRaw]:
        deadline = time.monotonic() + seconds
        batch: list[RecordedRaw] = []
        with self.store.changed:
            while True:
                log = self.store.log
                start = bisect.bisect_right(log, after, key=_position)
                for record in log[start:]:
                    if accepts(record):
                        batch.append(record)
                        after = record.position
                        if len(batch) == size:
                            return batch
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return batch
                self.store.changed.wait(remaining)


def _position(record: RecordedRaw) -> Position:
    return record.position
