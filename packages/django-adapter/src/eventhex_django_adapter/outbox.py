"""``DjangoOutboxStorageStrategy``: the transactional outbox in the ``eventhex_outboxentry`` table.

Appends write one outbox row per accepted event in the same transaction (one bulk ``INSERT``).
``outbox_entries`` serves event_sourcery's ``Outbox.run``: each entry is locked while it is being
published (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent runs never publish
the same entry at the same time; SQLite serialises writers anyway), deleted when publishing
succeeds, and charged one attempt when it raises; after ``max_attempts`` failed attempts it is
marked dead and no longer handed out. The relay (``relay_source``) uses the same rows.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal

from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from event_sourcery import StreamId
from event_sourcery.event import RawEvent, RecordedRaw
from event_sourcery.interfaces import OutboxFiltererStrategy, OutboxStorageStrategy

from eventhex_django_adapter._datetimes import from_db, to_db
from eventhex_django_adapter.models import OutboxEntry

__all__ = ["DjangoOutboxStorageStrategy", "recorded_raw"]


class DjangoOutboxStorageStrategy(OutboxStorageStrategy):
    """Outbox rows in the database of the event store.

    Args:
        filterer: Decides which appended events enter the outbox.
        max_attempts: Failed publishing attempts after which an entry is dead.
        database: The ``settings.DATABASES`` alias holding the tables.
    """

    def __init__(
        self,
        filterer: OutboxFiltererStrategy | Callable[[RawEvent], bool],
        max_attempts: int,
        database: str = "default",
    ) -> None:
        self._filterer = filterer
        self._max_attempts = max_attempts
        self._database = database

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
            OutboxEntry.objects.using(self._database).bulk_create(entries)

    def outbox_entries(self, limit: int) -> Iterator[AbstractContextManager[RecordedRaw]]:
        """Up to ``limit`` due entries, oldest first, each locked while it is published."""
        last_id = 0
        for _ in range(limit):
            with transaction.atomic(using=self._database):
                entry = self._lock_next_due(after_id=last_id)
                if entry is None:
                    return
                last_id = entry.pk
                yield self._publishing(entry)

    def _lock_next_due(self, after_id: int) -> OutboxEntry | None:
        due: QuerySet[OutboxEntry] = OutboxEntry.objects.using(self._database).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
            dead=False,
            id__gt=after_id,
        )
        if connections[self._database].features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        return due.order_by("id").first()

    @contextmanager
    def _publishing(self, entry: OutboxEntry) -> Iterator[RecordedRaw]:
        entries = OutboxEntry.objects.using(self._database).filter(pk=entry.pk)
        try:
            yield recorded_raw(entry)
        except Exception as error:  # publishing failed: charge one attempt, keep the entry
            attempts = entry.attempts + 1
            entries.update(
                attempts=attempts,
                dead=attempts >= entry.max_attempts,
                last_error=f"{type(error).__name__}: {error}",
            )
        else:
            entries.delete()


def recorded_raw(entry: OutboxEntry) -> RecordedRaw:
    """The record an outbox row was written from."""
    stream_id = StreamId(
        uuid=entry.stream_uuid, name=entry.stream_name, category=entry.stream_category or None
    )
    return RecordedRaw(
        entry=RawEvent(
            uuid=entry.event_uuid,
            stream_id=stream_id,
            created_at=from_db(entry.created_at),
            name=entry.event_name,
            data=entry.data,
            context=entry.context,
            version=entry.version,
        ),
        position=int(entry.position),
        tenant_id=entry.tenant_id,
    )
