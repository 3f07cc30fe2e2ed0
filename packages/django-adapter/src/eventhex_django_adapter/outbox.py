"""``DjangoOutboxStorageStrategy``: the transactional outbox in the ``eventhex_outboxentry`` table.

Appends write one outbox row per accepted event in the same transaction (on PostgreSQL inside
the append's single statement, see :mod:`._storage.append_sql`). ``outbox_entries`` serves
event_sourcery's ``Outbox.run`` in batches: one transaction locks a claim of up to ``limit``
entries (the oldest due ones that nothing holds back: of each stream a run of consecutive
entries, see :mod:`._outbox.table`; concurrent runs and relays skip what it locks), hands them
out in order, charges an attempt to each one whose publishing raises (after ``max_attempts``
failed attempts it is dead and no longer handed out), and deletes the published ones with one
``DELETE`` when the batch ends. Per-stream order holds: once an entry fails, the entries after it
in its stream are not handed out in this batch, and wait for it without being charged.

Delivery is at least once: if the consumer stops iterating before the batch ends (an exception
escapes ``Outbox.run``, or the iterator is closed), the transaction rolls back, and the entries
it published in this batch are handed out again later. The relay (``relay_source``) drains the
same rows under the same rules.

An entry that cannot be decoded (its JSON nested deeper than Python decodes, written around
eventhex's checks) is dead-lettered at once with the reason, and the others are handed out.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from event_sourcery.event import EventRegistry, RawEvent, RecordedRaw
from event_sourcery.interfaces import OutboxFiltererStrategy, OutboxStorageStrategy

from eventhex_core_ports.errors import StoredJsonUnreadable, UndecodableEvent
from eventhex_django_adapter._codec import to_db
from eventhex_django_adapter._failure_text import failure_line, name_carries_encrypted_fields
from eventhex_django_adapter._outbox.rows import StreamIds, record_from_row
from eventhex_django_adapter._outbox.table import OutboxTable
from eventhex_django_adapter.models import OutboxEntry

__all__ = ["DjangoOutboxStorageStrategy"]


class DjangoOutboxStorageStrategy(OutboxStorageStrategy):
    """Outbox rows in the database of the event store.

    Args:
        filterer: Decides which appended events enter the outbox.
        max_attempts: Failed publishing attempts after which an entry is dead.
        database: The ``settings.DATABASES`` alias holding the tables.
        prepared_statements: Whether claims on PostgreSQL run as prepared statements.
        registry: The events' registry: a failed publishing attempt keeps its exception
            messages in ``last_error`` only for events without encrypted fields (without it,
            for none); see :mod:`._failure_text`.
    """

    def __init__(
        self,
        filterer: OutboxFiltererStrategy | Callable[[RawEvent], bool],
        max_attempts: int,
        database: str = "default",
        prepared_statements: bool = True,
        registry: EventRegistry | None = None,
    ) -> None:
        self._filterer = filterer
        self._max_attempts = max_attempts
        self._registry = registry
        self._table = OutboxTable(database, prepared_statements)

    def put_into_outbox(self, records: list[RecordedRaw]) -> None:
        """Write the records the filterer accepts (called inside the append transaction)."""
        now = timezone.now()
        entries = [
            OutboxEntry(
                event_uuid=record.entry.uuid,
                event_name=record.entry.name,
                stream_uuid=record.entry.stream_id,
                stream_name=record.entry.stream_id.name,
                stream_category=record.entry.stream_id.category or "",
                tenant_id=record.tenant_id,
                version=record.entry.version,
                position=Decimal(record.position),
                created_at=to_db(record.entry.created_at),
                data=record.entry.data,
                context=record.entry.context,
                max_attempts=self._max_attempts,
                enqueued_at=now,
            )
            for record in records
            if self._filterer(record.entry)
        ]
        if entries:
            self._table.rows().bulk_create(entries)

    @property
    def max_attempts(self) -> int:
        """Failed publishing attempts after which a new entry is dead."""
        return self._max_attempts

    def accepts(self, entry: RawEvent) -> bool:
        """Whether the filterer lets ``entry`` into the outbox."""
        return bool(self._filterer(entry))

    def outbox_entries(self, limit: int) -> Iterator[AbstractContextManager[RecordedRaw]]:
        """Up to ``limit`` due entries, oldest first, locked in one transaction (see above)."""
        if limit <= 0:
            return
        with transaction.atomic(using=self._table.database):
            published: list[int] = []
            stopped: set[tuple[Any, Any, Any]] = set()
            stream_ids = StreamIds()
            for row in self._table.lock_claim(limit):
                stream = (row[6], row[5], row[3])
                if stream in stopped:
                    continue  # an earlier entry of its stream failed in this batch: keep order
                try:
                    record = record_from_row(row, stream_ids)
                except StoredJsonUnreadable as error:
                    self._dead_letter_undecodable(row, error)
                    continue
                yield self._publishing(row, record, published, stopped)
            self._table.delete(published)

    def _dead_letter_undecodable(self, row: tuple[Any, ...], error: Exception) -> None:
        """Dead-letter an entry that cannot be decoded, at once: no attempt would ever succeed,
        and the entries after it (of its stream too) are handed out as usual (as the relay
        does)."""
        self._table.fail(row[0], f"{type(error).__name__}: {error}", dead=True)

    @contextmanager
    def _publishing(
        self,
        row: tuple[Any, ...],
        record: RecordedRaw,
        published: list[int],
        stopped: set[tuple[Any, Any, Any]],
    ) -> Iterator[RecordedRaw]:
        entry_id, attempts, max_attempts = row[0], row[12], row[13]
        try:
            yield record
        except Exception as error:
            if isinstance(error, UndecodableEvent) and error.event_uuid == record.entry.uuid:
                self._dead_letter_undecodable(row, error)  # Outbox.run's serde cannot build it
                return
            # publishing failed: charge one attempt, keep the entry
            stopped.add((row[6], row[5], row[3]))
            secret = name_carries_encrypted_fields(self._registry, row[2])
            text = failure_line(error, keep_messages=not secret)
            self._table.fail(entry_id, text, dead=attempts + 1 >= max_attempts)
        else:
            published.append(entry_id)
