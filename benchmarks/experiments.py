"""Prototypes of hot-path fixes for the Django adapter, measured without editing it.

The Django adapter belongs to another engineer; these patches exist only inside a benchmark
worker process (``--experiment NAME``) so that each recommendation in ``RESULTS.md`` comes with a
measured gain. They are deliberately narrow (the fast path, falling back to the adapter's own
code for everything else) and are not product code.

- ``upsert_stream``: a new stream is claimed with one ``INSERT ... ON CONFLICT DO NOTHING
  RETURNING id, pg_current_xact_id()`` instead of ``SELECT`` + ``SAVEPOINT`` + ``INSERT`` +
  ``RELEASE`` + ``SELECT pg_current_xact_id()`` (8 round trips per append become 4).
- ``lazy_dispatch``: the in-transaction dispatcher deserializes an appended record only when a
  listener is registered for its type or category (event_sourcery's ``Dispatcher`` always does).
- ``load_values``: ``fetch_events`` reads tuples (``values_list``) instead of model instances.
- ``outbox_batch``: ``outbox_entries`` locks up to ``limit`` entries in one transaction and
  deletes the published ones with one ``DELETE`` (instead of a transaction, a ``SELECT ... FOR
  UPDATE`` and a ``DELETE`` per entry).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any


def _upsert_stream() -> None:
    from django.db import connections, transaction
    from event_sourcery import NO_VERSIONING
    from event_sourcery.event import RecordedRaw

    from eventhex_django_adapter import storage
    from eventhex_django_adapter._records import category_of, encode_position
    from eventhex_django_adapter.models import Event, Stream

    original = storage.DjangoStorageStrategy.insert_events

    def insert_events(self: Any, stream_id: Any, versioning: Any, events: list[Any]) -> None:
        connection = connections[self._database]
        is_new = versioning is NO_VERSIONING or versioning.expected_version == 0
        if not events or connection.vendor != "postgresql" or not is_new:
            return original(self, stream_id, versioning, events)
        version = None if versioning is NO_VERSIONING else events[-1].version
        with transaction.atomic(using=self._database):
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO eventhex_stream (uuid, name, category, tenant_id, version) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING "
                    "RETURNING id, pg_current_xact_id()::text::bigint",
                    [stream_id, stream_id.name, category_of(stream_id), self._tenant_id, version],
                )
                row = cursor.fetchone()
            if row is None:  # the stream exists: the adapter's own path decides
                return original(self, stream_id, versioning, events)
            stream = Stream(
                pk=row[0],
                uuid=stream_id,
                name=stream_id.name,
                category=category_of(stream_id),
                tenant_id=self._tenant_id,
                version=version,
            )
            stream._state.adding, stream._state.db = False, self._database
            tx_id = int(row[1])
            rows = [self._event_row(stream, raw, tx_id) for raw in events]
            Event.objects.using(self._database).bulk_create(rows)
            records = [
                RecordedRaw(
                    entry=raw, position=encode_position(tx_id, r.pk), tenant_id=self._tenant_id
                )
                for raw, r in zip(events, rows, strict=True)
            ]
            if self._outbox is not None:
                self._outbox.put_into_outbox(records)
            self._dispatcher.dispatch(*records)
        return None

    storage.DjangoStorageStrategy.insert_events = insert_events  # type: ignore[method-assign]


def _lazy_dispatch() -> None:
    from event_sourcery.in_transaction import Dispatcher

    original = Dispatcher.dispatch

    def dispatch(self: Any, *raws: Any) -> None:
        wanted = []
        for raw in raws:
            event_type = self._serde.registry.type_for_name(raw.entry.name)
            category = raw.entry.stream_id.category or ""
            if any(True for _ in self._listeners[event_type]) or any(
                True for _ in self._listeners[category]
            ):
                wanted.append(raw)
        if wanted:
            original(self, *wanted)

    Dispatcher.dispatch = dispatch  # type: ignore[method-assign]


def _load_values() -> None:
    from event_sourcery.event import RawEvent

    from eventhex_django_adapter import storage
    from eventhex_django_adapter._datetimes import from_db
    from eventhex_django_adapter._records import stream_id_of
    from eventhex_django_adapter.models import Event, Snapshot

    original = storage.DjangoStorageStrategy.fetch_events

    def fetch_events(self: Any, stream_id: Any, start: Any = None, stop: Any = None) -> Any:
        if start is not None or stop is not None:
            return original(self, stream_id, start, stop)
        stream = self._streams(stream_id).first()
        if stream is None:
            return []
        if Snapshot.objects.using(self._database).filter(stream=stream).exists():
            return original(self, stream_id, start, stop)
        found_id = stream_id_of(stream)
        rows = (
            Event.objects.using(self._database)
            .filter(stream=stream)
            .order_by("version", "id")
            .values_list("uuid", "created_at", "name", "data", "context", "version")
        )
        return [
            RawEvent(
                uuid=u,
                stream_id=found_id,
                created_at=from_db(c),
                name=n,
                data=d,
                context=x,
                version=v,
            )
            for u, c, n, d, x, v in rows
        ]

    storage.DjangoStorageStrategy.fetch_events = fetch_events  # type: ignore[method-assign]


def _outbox_batch() -> None:
    from django.db import connections, transaction
    from django.db.models import Q
    from django.utils import timezone

    from eventhex_django_adapter import outbox
    from eventhex_django_adapter.models import OutboxEntry

    def outbox_entries(self: Any, limit: int) -> Iterator[AbstractContextManager[Any]]:
        with transaction.atomic(using=self._database):
            due = OutboxEntry.objects.using(self._database).filter(
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
                dead=False,
            )
            if connections[self._database].features.has_select_for_update_skip_locked:
                due = due.select_for_update(skip_locked=True)
            published: list[int] = []
            for entry in list(due.order_by("id")[:limit]):
                yield _publishing(self, entry, published)
            if published:
                OutboxEntry.objects.using(self._database).filter(pk__in=published).delete()

    @contextmanager
    def _publishing(self: Any, entry: Any, published: list[int]) -> Iterator[Any]:
        try:
            yield outbox.recorded_raw(entry)
        except Exception as error:
            attempts = entry.attempts + 1
            OutboxEntry.objects.using(self._database).filter(pk=entry.pk).update(
                attempts=attempts,
                dead=attempts >= entry.max_attempts,
                last_error=f"{type(error).__name__}: {error}",
            )
        else:
            published.append(entry.pk)

    outbox.DjangoOutboxStorageStrategy.outbox_entries = outbox_entries  # type: ignore[method-assign]


EXPERIMENTS = {
    "upsert_stream": _upsert_stream,
    "lazy_dispatch": _lazy_dispatch,
    "load_values": _load_values,
    "outbox_batch": _outbox_batch,
}


def apply(names: list[str]) -> None:
    """Install the named prototypes in this process."""
    for name in names:
        EXPERIMENTS[name]()
