"""``DjangoOutboxStorageStrategy``: the transactional outbox in the ``eventhex_outboxentry`` table.

Appends write one outbox row per accepted event in the same transaction (on PostgreSQL inside
the append's single statement, see :mod:`._append_sql`). ``outbox_entries`` serves
event_sourcery's ``Outbox.run`` in batches: one transaction locks up to ``limit`` due entries
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent runs never hand out the same
entry; SQLite serialises writers anyway), hands them out one by one, charges an attempt to each
one whose publishing raises (one ``UPDATE`` of that row; after ``max_attempts`` failed attempts
it is marked dead and no longer handed out), and deletes the published ones with one
``DELETE`` when the batch ends. Due means not dead, ``next_attempt_at`` passed (or unset) and
not claimed by a relay (``claimed_until`` unset or passed). Per-stream order holds: an entry is
handed out only once every earlier non-dead entry of its stream has been published in this
batch, so after a failure the rest of that stream waits for the next run.

Delivery is at least once: if the consumer stops iterating before the batch ends (an exception
escapes ``Outbox.run``, or the iterator is closed), the transaction rolls back, and the entries
it published in this batch are handed out again later. The relay (``relay_source``) uses the
same rows.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from event_sourcery import StreamId
from event_sourcery.event import RawEvent, RecordedRaw
from event_sourcery.interfaces import OutboxFiltererStrategy, OutboxStorageStrategy

from eventhex_django_adapter._datetimes import from_db, to_db
from eventhex_django_adapter._outbox_rows import COLUMNS
from eventhex_django_adapter._subscription_reads import driver_is_psycopg3, fetch
from eventhex_django_adapter._subscription_records import context_sql, context_value, json_value
from eventhex_django_adapter.models import OutboxEntry

__all__ = ["DjangoOutboxStorageStrategy"]


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
        prepared_statements: bool = True,
    ) -> None:
        self._filterer = filterer
        self._max_attempts = max_attempts
        self._database = database
        self._prepared_statements = prepared_statements

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
        with transaction.atomic(using=self._database):
            rows = self._lock_due(limit)
            published: list[int] = []
            done: set[int] = set()
            streams: dict[tuple[Any, Any, Any], StreamId] = {}
            for row in rows:
                previous = row[-1]
                if previous is not None and previous not in done:
                    continue  # an earlier entry of its stream is pending: keep stream order
                yield self._publishing(row, _stream_id(streams, row), published, done)
            if published:
                self._delete(published)

    def _delete(self, entry_ids: list[int]) -> None:
        connection = connections[self._database]
        if connection.vendor == "postgresql":  # one statement, one array parameter
            with connection.cursor() as cursor:
                cursor.execute(_PG_DELETE, [entry_ids])
        else:
            self._entries().filter(pk__in=entry_ids).delete()

    def _entries(self) -> QuerySet[OutboxEntry]:
        return OutboxEntry.objects.using(self._database)

    def _lock_due(self, limit: int) -> list[tuple[Any, ...]]:
        """The due entries in id order, each with the id of its stream's previous live entry."""
        now = timezone.now()
        if connections[self._database].vendor == "postgresql":
            binary = driver_is_psycopg3()
            rows = fetch(
                self._database,
                _PG_LOCK_DUE,
                {"now": now, "limit": limit},
                binary,
                self._prepared_statements,
            )
            if binary and not settings.USE_TZ:  # the ORM reads naive wall-clock time
                return [(*row[:9], row[9].replace(tzinfo=None), *row[10:]) for row in rows]
            return rows
        previous = (
            self._entries()
            .filter(
                tenant_id=OuterRef("tenant_id"),
                stream_category=OuterRef("stream_category"),
                stream_uuid=OuterRef("stream_uuid"),
                id__lt=OuterRef("id"),
                dead=False,
            )
            .order_by("-id")
            .values("id")[:1]
        )
        due = (
            self._entries()
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), dead=False)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .annotate(previous_id=Subquery(previous))
        )
        if connections[self._database].features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        return list(due.order_by("id").values_list(*_ROW, "previous_id")[:limit])

    @contextmanager
    def _publishing(
        self, row: tuple[Any, ...], stream_id: StreamId, published: list[int], done: set[int]
    ) -> Iterator[RecordedRaw]:
        entry_id, attempts, max_attempts = row[0], row[12], row[13]
        try:
            yield _record(row, stream_id)
        except Exception as error:  # publishing failed: charge one attempt, keep the entry
            self._entries().filter(pk=entry_id).update(
                attempts=attempts + 1,
                dead=attempts + 1 >= max_attempts,
                last_error=f"{type(error).__name__}: {error}",
            )
        else:
            published.append(entry_id)
            done.add(entry_id)


_PG_DELETE = "DELETE FROM eventhex_outboxentry WHERE id = ANY(%s)"

_PG_LOCK_DUE = f"""
SELECT o.id, o.event_uuid, o.event_name, o.stream_uuid, o.stream_name, o.stream_category,
       o.tenant_id, o.version, o.position, o.created_at, o.data, {context_sql("o.context")},
       o.attempts, o.max_attempts,
       (SELECT p.id FROM eventhex_outboxentry p
        WHERE p.tenant_id = o.tenant_id AND p.stream_category = o.stream_category
          AND p.stream_uuid = o.stream_uuid AND p.id < o.id AND NOT p.dead
        ORDER BY p.id DESC LIMIT 1)
FROM eventhex_outboxentry o
WHERE o.id = ANY(ARRAY(SELECT eventhex_outbox_due(%(now)s, %(limit)s, false)))
ORDER BY o.id
"""
"""Up to ``limit`` due rows, locked, oldest first (migration 0004's ``eventhex_outbox_due``),
each with the id of the previous live row of its stream."""

_ROW = COLUMNS[:-1]
"""The outbox columns a publishing attempt needs (``last_error`` is not one of them)."""


def _stream_id(known: dict[tuple[Any, Any, Any], StreamId], row: tuple[Any, ...]) -> StreamId:
    """The row's stream id, built once per stream in a batch (a named one checks its uuid)."""
    key = (row[3], row[4], row[5])
    found = known.get(key)
    if found is None:
        found = known[key] = StreamId(uuid=row[3], name=row[4], category=row[5] or None)
    return found


def _record(row: tuple[Any, ...], stream_id: StreamId) -> RecordedRaw:
    (_, event_uuid, name, _, _, _, tenant_id, version) = row[:8]
    position, created_at, data, context = row[8:12]
    return RecordedRaw(
        entry=RawEvent(
            uuid=event_uuid,
            stream_id=stream_id,
            created_at=from_db(created_at),
            name=name,
            data=json_value(data),
            context=context_value(context),
            version=version,
        ),
        position=int(position),
        tenant_id=tenant_id,
    )
