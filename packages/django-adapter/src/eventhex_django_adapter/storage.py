"""``DjangoStorageStrategy``: event streams on the Django ORM (PostgreSQL and SQLite).

How an append is written lives in :mod:`._storage`. Every append is checked first
(:mod:`._storage.checks`): the input rules, then its event versions, which are reported after
the errors that take precedence. Then it claims its stream (:mod:`._storage.claim`: creates it,
or moves its version on if it is still the one the append needs) and inserts its events.

On PostgreSQL that is one statement (:mod:`._storage.append_sql`) that also stamps the
transaction's id (``tx_id``) and writes the outbox rows. When no in-transaction listener wants
the records, it runs on its own, in autocommit or in the caller's transaction: a single
statement is atomic, so it needs no ``BEGIN``/``COMMIT`` and no savepoint, and it claims nothing
rather than fail on anything an append can meet (a taken version, a stored uuid), so the
caller's transaction stays usable. With listeners it runs inside
``transaction.atomic(using=alias)`` (a savepoint in the caller's transaction), and the listeners
run inside the block: a listener that raises rolls the whole append back. When the statement
cannot claim the stream, the slow path reads the stream row in a transaction to raise the exact
error (``ConcurrentStreamWriteError`` or a ``VersioningMismatch``), or appends if a race has
left the stream claimable after all (:mod:`._storage.stream_rows`). The statement's text does
not depend on the number of events, and the adapter prepares it on each connection (see
``DjangoConfig.prepared_statements``).

SQLite has no data-modifying CTEs: an append there is one ``transaction.atomic`` block of three
statements whatever the number of events (:mod:`._storage.orm_append`); the same slow path
finds out why a claim failed. On both databases, an event uuid that is already stored makes an
insert fail on a unique constraint; the append has then written nothing, and the
``IntegrityError`` becomes ``DuplicateEventUuid``.

Loading a stream on PostgreSQL is one query (the stream, its newest snapshot in range and the
events after it), read as tuples (:mod:`._storage.reads`).
"""

import copy
from typing import Any, Self

from django.db import IntegrityError, connections, transaction
from django.db.models import QuerySet
from event_sourcery import DEFAULT_TENANT, StreamId, TenantId
from event_sourcery.event import Position, RawEvent, WrappedEvent
from event_sourcery.in_transaction import Dispatcher
from event_sourcery.interfaces import StorageStrategy, Versioning

from eventhex_core_ports._internal.dispatch import ListenerAwareDispatcher
from eventhex_core_ports._internal.stream_claim import StreamClaim
from eventhex_core_ports._internal.validation import (
    DEFAULT_MAX_APPEND_BYTES,
    DEFAULT_MAX_APPEND_EVENTS,
    DEFAULT_MAX_EVENT_BYTES,
    check_event,
    check_stream_id,
    check_tenant_id,
)
from eventhex_core_ports.ports.decoded_reads import StoredEventDecoder, WrappedEventLoader
from eventhex_django_adapter._codec import to_db
from eventhex_django_adapter._db import reports_unmigrated
from eventhex_django_adapter._storage.append_sql import (
    append_statement,
    appended_records,
    run_append,
)
from eventhex_django_adapter._storage.checks import check_append, duplicate_uuid_error
from eventhex_django_adapter._storage.claim import claim_row
from eventhex_django_adapter._storage.orm_append import insert_event_rows
from eventhex_django_adapter._storage.quiet import held_quiet
from eventhex_django_adapter._storage.reads import load_stream, load_wrapped
from eventhex_django_adapter._storage.stream_rows import claim_stream, get_or_create_stream, streams
from eventhex_django_adapter._subscription.reads import newest_readable_position
from eventhex_django_adapter.models import Snapshot, Stream
from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy

__all__ = ["DjangoStorageStrategy"]


class DjangoStorageStrategy(StorageStrategy, WrappedEventLoader):
    """Streams, events and snapshots in the ``eventhex`` tables of one database alias.

    Args:
        dispatcher: Calls the in-transaction listeners with every appended record.
        outbox: Where appended records go for publishing; ``None`` when the outbox is off.
        database: The ``settings.DATABASES`` alias holding the tables.
        tenant_id: The tenant whose streams this instance reads and writes.
        max_event_bytes: The largest event (JSON data plus context, in bytes) it accepts.
        max_append_bytes: The most payload bytes one append accepts, all events together.
        max_append_events: The most events one append accepts.
        prepared_statements: Let psycopg prepare the adapter's statements (see ``_db``).
        notifications: Notify subscribers and relays of appends (``DjangoConfig``).

    Identifiers and payloads are checked by :mod:`eventhex_core_ports._internal.validation` before
    any statement runs, so a rejected append, snapshot, read or deletion leaves nothing behind.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        outbox: DjangoOutboxStorageStrategy | None = None,
        database: str = "default",
        tenant_id: TenantId = DEFAULT_TENANT,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_append_bytes: int = DEFAULT_MAX_APPEND_BYTES,
        max_append_events: int = DEFAULT_MAX_APPEND_EVENTS,
        prepared_statements: bool = True,
        notifications: bool = True,
    ) -> None:
        check_tenant_id(tenant_id)
        self._notify = notifications
        self._max_event_bytes = max_event_bytes
        self._append_limits = (max_event_bytes, max_append_bytes, max_append_events)
        self._prepare = prepared_statements
        self._dispatcher = dispatcher
        self._outbox = outbox
        self._database = database
        self._tenant_id = tenant_id

    @property
    def database(self) -> str:
        """The database alias this strategy uses."""
        return self._database

    def scoped_for_tenant(self, tenant_id: TenantId) -> Self:
        """A copy of this strategy that reads and writes as ``tenant_id``.

        Raises:
            InvalidTenantId: ``tenant_id`` breaks the identifier rules.
        """
        check_tenant_id(tenant_id)
        scoped = copy.copy(self)
        scoped._tenant_id = tenant_id
        return scoped

    @reports_unmigrated
    def fetch_events(
        self,
        stream_id: StreamId,
        start: int | None = None,
        stop: int | None = None,
    ) -> list[RawEvent]:
        """The stream's events in ``[start, stop)``, from the newest snapshot in that range."""
        check_stream_id(stream_id)
        return load_stream(self._database, self._tenant_id, stream_id, start, stop, self._prepare)

    @reports_unmigrated
    def load_wrapped(
        self,
        stream_id: StreamId,
        start: int | None,
        stop: int | None,
        decoder: StoredEventDecoder,
    ) -> list[WrappedEvent[Any]]:
        """The events of :meth:`fetch_events`, each built by ``decoder`` from the row read
        (``EventStore.load_stream`` through ``eventhex_core_ports._internal.reading``)."""
        check_stream_id(stream_id)
        return load_wrapped(
            self._database, self._tenant_id, stream_id, start, stop, decoder, self._prepare
        )

    @reports_unmigrated
    def insert_events(
        self,
        stream_id: StreamId,
        versioning: Versioning,
        events: list[RawEvent],
    ) -> None:
        """Append ``events`` atomically, checking ``versioning`` against the stream.

        Raises:
            ConcurrentStreamWriteError: The stream is not at the expected version.
            VersioningMismatch: Versioned and unversioned appends were mixed.
            DuplicateEventUuid: Two of ``events`` share a uuid, or one's uuid is already
                stored; nothing was written, and a caller's transaction stays usable.
            InvalidEventVersions: The events' versions do not continue the stream from the
                expected version; nothing was written.
            AppendTooLarge: The append has too many events or too many bytes in all.
            InvalidInput: An identifier or payload breaks the input rules.
        """
        claim, payloads = check_append(
            self._database, self._tenant_id, stream_id, versioning, events, *self._append_limits
        )
        if claim is None:
            return
        try:
            if connections[self._database].vendor == "postgresql":
                self._append_on_postgres(claim, events, payloads)
            else:
                self._append_on_sqlite(claim, events)
        except IntegrityError as error:
            duplicate = duplicate_uuid_error(error, self._database, stream_id, events)
            if duplicate is None:
                raise
            raise duplicate from error

    def _append_on_postgres(
        self, claim: StreamClaim, events: list[RawEvent], payloads: list[tuple[str, str]]
    ) -> None:
        """Append checked, non-empty ``events`` in one statement, or on the slow path."""
        sql, params = append_statement(
            claim.stream_id,
            self._tenant_id,
            claim.version,
            events,
            payloads,
            self._outbox,
            self._notify,
        )
        if not self._listened_to(events):
            # One statement is atomic on its own: no BEGIN/COMMIT round trips in autocommit,
            # and no SAVEPOINT/RELEASE in the caller's transaction. It fails on nothing an
            # append can meet alone (it claims nothing instead); a concurrent duplicate uuid
            # still fails it, and then the caller's transaction must roll back.
            with transaction.mark_for_rollback_on_error(using=self._database):
                rows = run_append(self._database, sql, params, self._prepare)
            if not rows:
                with transaction.atomic(using=self._database):
                    self._append_slowly(claim, events)
            return
        # A listener that raises must undo the append, and only the append: a savepoint.
        with transaction.atomic(using=self._database):
            rows = run_append(self._database, sql, params, self._prepare)
            if not rows:
                self._append_slowly(claim, events)
            else:
                self._dispatcher.dispatch(*appended_records(events, rows, self._tenant_id))

    def _append_on_sqlite(self, claim: StreamClaim, events: list[RawEvent]) -> None:
        """Append checked, non-empty ``events`` in one atomic block."""
        with transaction.atomic(using=self._database):
            claimed = claim_row(self._database, self._tenant_id, claim)
            self._append_slowly(claim, events, claimed)

    def _append_slowly(
        self, claim: StreamClaim, events: list[RawEvent], claimed: Stream | None = None
    ) -> None:
        """Claim the stream through its row unless ``claimed``, then insert (in an atomic block).

        Raises the exact error when the stream cannot be claimed; PostgreSQL comes here only
        when its one-statement append could not claim the stream.
        """
        stream = claimed
        if stream is None:
            stream = claim_stream(self._database, self._tenant_id, claim.stream_id, claim, events)
        with held_quiet(self._database, not self._notify):
            records = insert_event_rows(self._database, self._tenant_id, stream, events)
            if self._outbox is not None:
                self._outbox.put_into_outbox(records)
        self._dispatcher.dispatch(*records)

    def _listened_to(self, events: list[RawEvent]) -> bool:
        """Whether some in-transaction listener may want these events.

        ``ListenerAwareDispatcher`` can tell; any other dispatcher is assumed to want them.
        """
        dispatcher = self._dispatcher
        if not isinstance(dispatcher, ListenerAwareDispatcher):
            return True
        return dispatcher.listens_to_any(events)

    @reports_unmigrated
    def save_snapshot(self, snapshot: RawEvent) -> None:
        """Store ``snapshot``; a missing stream is created at the snapshot's version."""
        check_event(snapshot, self._max_event_bytes)
        version = snapshot.version or 0
        with transaction.atomic(using=self._database):
            stream = get_or_create_stream(
                self._database, self._tenant_id, snapshot.stream_id, snapshot.version
            )
            if stream.version is not None and stream.version < version:
                self._streams(snapshot.stream_id).filter(version__lt=version).update(
                    version=version
                )
            Snapshot.objects.using(self._database).create(
                uuid=snapshot.uuid,
                stream=stream,
                version=version,
                name=snapshot.name,
                data=snapshot.data,
                context=snapshot.context,
                created_at=to_db(snapshot.created_at),
            )

    @reports_unmigrated
    def delete_stream(self, stream_id: StreamId) -> None:
        """Remove the stream with its events and snapshots; a missing stream is a no-op."""
        check_stream_id(stream_id)
        with transaction.atomic(using=self._database):
            self._streams(stream_id).delete()

    @property
    @reports_unmigrated
    def current_position(self) -> Position | None:
        """The position of the newest readable event in the whole store, ``0`` when empty.

        Readable is the subscriptions' rule (on PostgreSQL an event is readable once no older
        transaction can still commit), so a subscription started from this position receives
        exactly the events that become readable afterwards.
        """
        return newest_readable_position(self._database)

    def _streams(self, stream_id: StreamId) -> QuerySet[Stream]:
        return streams(self._database, self._tenant_id, stream_id)
