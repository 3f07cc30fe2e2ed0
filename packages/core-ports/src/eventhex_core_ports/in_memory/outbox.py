"""In-memory ``OutboxStorageStrategy`` for event_sourcery's ``Outbox.run``.

Appends put the accepted records into the store's outbox table, which the relay source
(:mod:`.relay_source`) drains too. ``outbox_entries`` hands out a claim of up to ``limit``
entries in id order, taken as a relay's claim is (of each stream a run of consecutive entries; a
stream with an entry that a relay leases or that waits for a relay's retry is skipped).
Once an entry fails, the entries after it in its stream are not handed out in this batch: they
wait for it, and are not charged. A failed publication costs the entry one attempt; after
``max_attempts`` failed attempts it is dead; an entry whose event cannot be decoded
(``UndecodableEvent``) is dead at once, and its stream goes on. Published entries are removed,
and failures recorded, when the batch ends: a consumer that stops early leaves the batch as it
was, as the Django adapter's rolled-back transaction does.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from event_sourcery.event import RecordedRaw
from event_sourcery.interfaces import OutboxFiltererStrategy, OutboxStorageStrategy

from eventhex_core_ports.errors import UndecodableEvent
from eventhex_core_ports.in_memory._outbox_table import OutboxRow
from eventhex_core_ports.in_memory._store import InMemoryStore

__all__ = ["InMemoryOutboxStorageStrategy"]


@dataclass(frozen=True)
class InMemoryOutboxStorageStrategy(OutboxStorageStrategy):
    """Keeps accepted records in the store's outbox table until published or dead.

    Args:
        store: The shared in-memory store (the outbox lives in it so appends roll back with it).
        filterer: Decides which appended events enter the outbox.
        max_attempts: Failed publish attempts after which an entry is dead.
    """

    store: InMemoryStore
    filterer: OutboxFiltererStrategy
    max_attempts: int

    def put_into_outbox(self, records: list[RecordedRaw]) -> None:
        """Record the accepted ``records``; called inside the append's transaction."""
        accepted = [record for record in records if self.filterer(record.entry)]
        self.store.outbox.add(accepted, self.max_attempts, self.store.clock())

    def outbox_entries(self, limit: int) -> Iterator[AbstractContextManager[RecordedRaw]]:
        """Up to ``limit`` due entries, oldest first (see the module docstring)."""
        if limit <= 0:
            return
        with self.store.changed:
            batch = self.store.outbox.claimable(self.store.clock(), limit)
        published: set[int] = set()
        failed: list[tuple[OutboxRow, str]] = []
        undecodable: list[tuple[OutboxRow, str]] = []
        for row in batch:
            if row.stream in {other.stream for other, _ in failed}:
                continue  # an earlier entry of its stream failed in this batch: keep order
            yield self._publishing(row, published, failed, undecodable)
        with self.store.changed:
            for row, error in failed:
                row.fail(error, dead=row.attempts + 1 >= row.max_attempts)
            for row, error in undecodable:  # no attempt would ever succeed (Django's rule too)
                row.fail(error, dead=True)
            self.store.outbox.remove(published)
            self.store.changed.notify_all()

    @contextmanager
    def _publishing(
        self,
        row: OutboxRow,
        published: set[int],
        failed: list[tuple[OutboxRow, str]],
        undecodable: list[tuple[OutboxRow, str]],
    ) -> Iterator[RecordedRaw]:
        try:
            yield row.record
        except Exception as error:  # publishing failed: charge one attempt, keep the entry
            reason = f"{type(error).__name__}: {error}"
            if isinstance(error, UndecodableEvent) and error.event_uuid == row.record.entry.uuid:
                undecodable.append((row, reason))  # Outbox.run's serde cannot build it
            else:
                failed.append((row, reason))
        else:
            published.add(row.entry_id)
