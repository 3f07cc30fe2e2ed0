"""In-memory ``OutboxStorageStrategy`` for event_sourcery's ``Outbox.run``."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from event_sourcery.event import RecordedRaw
from event_sourcery.interfaces import OutboxFiltererStrategy, OutboxStorageStrategy

from eventhex_core_ports.in_memory._store import InMemoryStore, OutboxRecord

__all__ = ["InMemoryOutboxStorageStrategy"]


@dataclass(frozen=True)
class InMemoryOutboxStorageStrategy(OutboxStorageStrategy):
    """Keeps accepted records until published or out of attempts.

    Args:
        store: The shared in-memory store (the outbox lives in it so appends roll back with it).
        filterer: Decides which appended events enter the outbox.
        max_attempts: Failed publish attempts after which an entry is no longer handed out.
    """

    store: InMemoryStore
    filterer: OutboxFiltererStrategy
    max_attempts: int

    def put_into_outbox(self, records: list[RecordedRaw]) -> None:
        """Record the accepted ``records``; called inside the append's transaction."""
        accepted = [OutboxRecord(r, self.max_attempts) for r in records if self.filterer(r.entry)]
        self.store.outbox.extend(accepted)

    def outbox_entries(self, limit: int) -> Iterator[AbstractContextManager[RecordedRaw]]:
        with self.store.changed:
            due = [e for e in self.store.outbox if e.attempts < e.max_attempts][:limit]
        for entry in due:
            yield self._publishing(entry)

    @contextmanager
    def _publishing(self, entry: OutboxRecord) -> Iterator[RecordedRaw]:
        try:
            yield entry.record
        except Exception:
            with self.store.changed:
                entry.attempts += 1
        else:
            with self.store.changed:
                self.store.outbox.remove(entry)
