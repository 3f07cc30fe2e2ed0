"""``DjangoStorageStrategy``: event streams on the Django ORM (PostgreSQL and SQLite).

Appending on PostgreSQL is one statement (:mod:`._append_sql`): it claims the stream (inserts it,
or moves its version on if it is still the expected one), inserts the events with the
transaction's id (``tx_id``) and writes the outbox rows. Outside a transaction, when no
in-transaction listener wants the records, that statement runs on its own (a single statement is
atomic, so no ``BEGIN``/``COMMIT`` round trips); otherwise it runs inside
``transaction.atomic(using=alias)`` (a savepoint when the caller already opened a transaction, so
a failed append leaves the caller's transaction usable), and the listeners run inside the block:
a listener that raises rolls the whole append back. When the statement cannot claim the stream,
the slow path reads the stream row in a transaction to raise the exact error
(``ConcurrentStreamWriteError`` or a ``VersioningMismatch``), or appends if a race has left the
stream claimable after all. The statement's text does not depend on the number of events, so
psycopg can prepare it once per connection when prepared statements are enabled (Django disables
them by default for the sake of connection poolers; ``"prepare_threshold": 5`` in the database
``OPTIONS`` turns them on and skips planning this statement on every append).

SQLite has no data-modifying CTEs: an append there is one ``transaction.atomic`` block of three
statements whatever the number of events (claim the stream with ``INSERT ... ON CONFLICT DO
NOTHING RETURNING`` or a conditional ``UPDATE ... RETURNING``, one bulk ``INSERT`` of the events,
one of the outbox rows); the same slow path finds out why a claim failed.

On both, an event uuid that is already stored makes an insert fail on a unique constraint of
``eventhex_event``. The failed statement, or the rolled-back atomic block (a savepoint inside a
caller's transaction), has written nothing, and the ``IntegrityError`` becomes
``DuplicateEventUuid`` naming the stored uuids, found by a query that only this error path runs
(:mod:`._event_uuids`).

Event versions that do not continue the stream from the expected version (``InvalidEventVersions``)
are found in Python before any statement, so they never reach the ``(stream, version)``
constraint. Such an append writes nothing: it only reads the stream row and the stored uuids, to
raise a versioning error or ``DuplicateEventUuid`` first when one applies, as every adapter does.

Loading a stream on PostgreSQL is one query (the stream, its newest snapshot in range and the
events after it), read as tuples.
"""

import copy
from typing import Any, Self

from django.db import IntegrityError, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from event_sourcery import DEFAULT_TENANT, NO_VERSIONING, StreamId, TenantId
from event_sourcery.event import Position, RawEvent, RecordedRaw
from event_sourcery.exceptions import ConcurrentStreamWriteError
from event_sourcery.in_transaction import Dispatcher
from event_sourcery.interfaces import StorageStrategy, Versioning

from eventhex_core_ports.dispatch import ListenerAwareDispatcher
from eventhex_core_ports.validation import (
    DEFAULT_MAX_EVENT_BYTES,
    DuplicateEventUuid,
    InvalidEventVersions,
    check_event,
    check_event_versions,
    check_events,
    check_stream_id,
    check_tenant_id,
)
from eventhex_django_adapter._append_sql import (
    Claim,
    append_parameters,
    append_sql,
    statement_cursor,
)
from eventhex_django_adapter._datetimes import from_db, to_db
from eventhex_django_adapter._event_uuids import duplicated_uuids, stored_uuids
from eventhex_django_adapter._records import (
    category_of,
    encode_position,
    raw_event,
    stream_id_of,
)
from eventhex_django_adapter._stream_reads import load_postgres
from eventhex_django_adapter._subscription_reads import newest_readable_position
from eventhex_django_adapter.models import Event, Snapshot, Stream
from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy

__all__ = ["DjangoStorageStrategy"]


class DjangoStorageStrategy(StorageStrategy):
    """Streams, events and snapshots in the ``eventhex`` tables of one database alias.

    Args:
        dispatcher: Calls the in-transaction listeners with every appended record.
        outbox: Where appended records go for publishing; ``None`` when the outbox is off.
        database: The ``settings.DATABASES`` alias holding the tables.
        tenant_id: The tenant whose streams this instance reads and writes.
        max_event_bytes: The largest event (JSON data plus context, in bytes) it accepts.

    Identifiers and payloads are checked by :mod:`eventhex_core_ports.validation` before any
    statement runs, so a rejected append, snapshot, read or deletion leaves nothing behind.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        outbox: DjangoOutboxStorageStrategy | None = None,
        database: str = "default",
        tenant_id: TenantId = DEFAULT_TENANT,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        check_tenant_id(tenant_id)
        self._max_event_bytes = max_event_bytes
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

    def fetch_events(
        self,
        stream_id: StreamId,
        start: int | None = None,
        stop: int | None = None,
    ) -> list[RawEvent]:
        """The stream's events in ``[start, stop)``, from the newest snapshot in that range."""
        check_stream_id(stream_id)
        if connections[self._database].vendor == "postgresql":
            loaded = load_postgres(self._database, self._tenant_id, stream_id, start, stop)
            if loaded is None:
                return []
            version, snapshot, found = loaded.version, loaded.snapshot, loaded.events
        else:
            stream = self._streams(stream_id).first()
            if stream is None:
                return []
            version, snapshot, found = self._load_with_orm(stream, start, stop)
        if version is None and (start or stop):
            found = found[(start or 1) - 1 : stop and stop - 1]
        return [snapshot, *found] if snapshot is not None else found

    def _load_with_orm(
        self, stream: Stream, start: int | None, stop: int | None
    ) -> tuple[int | None, RawEvent | None, list[RawEvent]]:
        found_id = stream_id_of(stream)
        snapshots = Snapshot.objects.using(self._database).filter(stream=stream)
        snapshots = snapshots.filter(_version_range(start, stop))
        snapshot = snapshots.order_by("-version").first()
        events = Event.objects.using(self._database).filter(stream=stream)
        if snapshot is not None:
            events = events.filter(_version_range(None, stop), version__gt=snapshot.version)
        elif start is not None or stop is not None:
            events = events.filter(_version_range(start, stop) | Q(version__isnull=True))
        rows = events.order_by("version", "id").values_list(
            "uuid", "created_at", "name", "data", "context", "version"
        )
        found = [
            RawEvent(
                uuid=uuid,
                stream_id=found_id,
                created_at=from_db(created_at),
                name=name,
                data=data,
                context=context,
                version=version,
            )
            for uuid, created_at, name, data, context, version in rows
        ]
        return stream.version, None if snapshot is None else raw_event(snapshot, found_id), found

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
            InvalidInput: An identifier or payload breaks the input rules.
        """
        check_stream_id(stream_id)
        payloads = check_events(events, self._max_event_bytes)
        if not events:
            return
        try:
            check_event_versions(stream_id, versioning, events)
        except InvalidEventVersions:
            self._check_before_versions(stream_id, versioning, events)
            raise
        try:
            self._insert_checked(stream_id, versioning, events, payloads)
        except IntegrityError as error:
            stored = duplicated_uuids(error, self._database, [raw.uuid for raw in events])
            if not stored:
                raise
            raise DuplicateEventUuid(stored, stream_id, already_stored=True) from error

    def _check_before_versions(
        self, stream_id: StreamId, versioning: Versioning, events: list[RawEvent]
    ) -> None:
        """Raise what an append of ``events`` would meet before its versions; only reads.

        An append whose event versions are wrong never runs its write: these reads give the
        errors that take precedence (a versioning error, then a stored uuid) the same order as
        on every other adapter.
        """
        _check_claimable(self._streams(stream_id).first(), versioning)
        stored = stored_uuids(self._database, [raw.uuid for raw in events])
        if stored:
            raise DuplicateEventUuid(stored, stream_id, already_stored=True)

    def _insert_checked(
        self,
        stream_id: StreamId,
        versioning: Versioning,
        events: list[RawEvent],
        payloads: list[tuple[str, str]],
    ) -> None:
        """Append checked, non-empty ``events``; a failure leaves the database as it was."""
        connection = connections[self._database]
        if connection.vendor != "postgresql":
            with transaction.atomic(using=self._database):
                claimed = self._claim_directly(stream_id, versioning, events[-1].version)
                self._append_slowly(stream_id, versioning, events, claimed)
            return
        expected = versioning.expected_version
        claim: Claim = "any" if expected is None else "new" if expected == 0 else "existing"
        outbox = self._outbox
        if outbox is not None and not any(outbox.accepts(raw) for raw in events):
            outbox = None
        sql = append_sql(claim, outbox is not None)
        params = append_parameters(
            stream_id,
            self._tenant_id,
            expected,
            events,
            payloads,
            None if outbox is None else outbox.accepts,
            0 if outbox is None else outbox.max_attempts,
            timezone.now(),
        )
        listened = self._listened_to(events)
        if not listened and connection.get_autocommit() and not connection.in_atomic_block:
            # One statement is atomic on its own: no BEGIN/COMMIT round trips.
            with statement_cursor(self._database) as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            if rows:
                return
            with transaction.atomic(using=self._database):
                self._append_slowly(stream_id, versioning, events)
            return
        with transaction.atomic(using=self._database):
            with statement_cursor(self._database) as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            if not rows:
                self._append_slowly(stream_id, versioning, events)
            elif listened:
                self._dispatcher.dispatch(
                    *(
                        RecordedRaw(
                            entry=raw,
                            position=encode_position(tx_id, row_id),
                            tenant_id=self._tenant_id,
                        )
                        for raw, (row_id, tx_id) in zip(events, rows, strict=True)
                    )
                )

    def _listened_to(self, events: list[RawEvent]) -> bool:
        """Whether some in-transaction listener may want these events.

        ``ListenerAwareDispatcher`` can tell; any other dispatcher is assumed to want them.
        """
        dispatcher = self._dispatcher
        if not isinstance(dispatcher, ListenerAwareDispatcher):
            return True
        return any(
            dispatcher.listens_to(RecordedRaw(entry=raw, position=0, tenant_id=self._tenant_id))
            for raw in events
        )

    def _append_slowly(
        self,
        stream_id: StreamId,
        versioning: Versioning,
        events: list[RawEvent],
        claimed: Stream | None = None,
    ) -> None:
        """Claim the stream through its row unless ``claimed``, then insert (in an atomic block).

        Raises the exact error when the stream cannot be claimed; PostgreSQL comes here only
        when its one-statement append could not claim the stream.
        """
        stream = claimed
        if stream is None:
            stream = self._claim_stream(stream_id, versioning, events[-1].version)
        tx_id = self._transaction_id()
        rows = [self._event_row(stream, raw, tx_id) for raw in events]
        Event.objects.using(self._database).bulk_create(rows)
        records = [
            RecordedRaw(
                entry=raw,
                position=encode_position(tx_id, row.pk),
                tenant_id=self._tenant_id,
            )
            for raw, row in zip(events, rows, strict=True)
        ]
        if self._outbox is not None:
            self._outbox.put_into_outbox(records)
        self._dispatcher.dispatch(*records)

    def save_snapshot(self, snapshot: RawEvent) -> None:
        """Store ``snapshot``; a missing stream is created at the snapshot's version."""
        check_event(snapshot, self._max_event_bytes)
        version = snapshot.version or 0
        with transaction.atomic(using=self._database):
            stream = self._streams(snapshot.stream_id).first()
            if stream is None:
                stream = self._create_stream(snapshot.stream_id, snapshot.version)
            if stream is None:
                stream = self._streams(snapshot.stream_id).get()
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

    def delete_stream(self, stream_id: StreamId) -> None:
        """Remove the stream with its events and snapshots; a missing stream is a no-op."""
        check_stream_id(stream_id)
        with transaction.atomic(using=self._database):
            self._streams(stream_id).delete()

    @property
    def current_position(self) -> Position | None:
        """The position of the newest readable event in the whole store, ``0`` when empty.

        Readable is the subscriptions' rule (on PostgreSQL an event is readable once no older
        transaction can still commit), so a subscription started from this position receives
        exactly the events that become readable afterwards.
        """
        return newest_readable_position(self._database)

    def _streams(self, stream_id: StreamId) -> QuerySet[Stream]:
        return Stream.objects.using(self._database).filter(
            tenant_id=self._tenant_id, category=category_of(stream_id), uuid=stream_id
        )

    def _claim_stream(
        self, stream_id: StreamId, versioning: Versioning, new_version: int | None
    ) -> Stream:
        """The stream row, created or with its version moved to ``new_version``.

        Raises:
            ConcurrentStreamWriteError: The stream is not at the expected version, or another
                writer created or changed it first.
            VersioningMismatch: Versioned and unversioned appends were mixed.
        """
        expected = versioning.expected_version
        stream = self._streams(stream_id).first()
        _check_claimable(stream, versioning)
        if stream is None:
            created = self._create_stream(
                stream_id, None if versioning is NO_VERSIONING else new_version
            )
            if created is not None:
                return created
            stream = self._streams(stream_id).first()
            if stream is None:
                raise ConcurrentStreamWriteError(None, expected)
            _check_claimable(stream, versioning)
        changes: dict[str, Any] = {"version": new_version if expected is not None else None}
        if stream.name is None and stream_id.name is not None:
            changes["name"] = stream.name = stream_id.name
        claimed = (
            self._streams(stream_id)
            .filter(pk=stream.pk)
            .filter(Q(version__isnull=True) if expected is None else Q(version=expected))
            .update(**changes)
        )
        if not claimed:
            raise ConcurrentStreamWriteError(stream.version, expected)
        return stream

    def _claim_directly(
        self, stream_id: StreamId, versioning: Versioning, new_version: int | None
    ) -> Stream | None:
        """Claim the stream with one statement each way (SQLite); ``None``: take the slow path.

        A new stream is inserted (``ON CONFLICT DO NOTHING``), an existing one has its version
        moved on only if it is still the expected one; unversioned appends try both. Needs
        ``RETURNING`` (SQLite 3.35+).
        """
        connection = connections[self._database]
        if not connection.features.can_return_columns_from_insert:
            return None
        expected = versioning.expected_version
        category = category_of(stream_id)
        version = None if expected is None else new_version
        table = Stream._meta.db_table
        found = None
        with connection.cursor() as cursor:
            if expected is None or expected == 0:
                cursor.execute(
                    f"INSERT INTO {table} (uuid, name, category, tenant_id, version) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                    [stream_id.hex, stream_id.name, category, self._tenant_id, version],
                )
                found = cursor.fetchone()
            if found is None and expected != 0:
                matches = "version IS NULL" if expected is None else "version = %s"
                cursor.execute(
                    f"UPDATE {table} SET version = %s, name = COALESCE(name, %s) "
                    "WHERE tenant_id = %s AND category = %s AND uuid = %s "
                    f"AND {matches} RETURNING id",
                    [version, stream_id.name, self._tenant_id, category, stream_id.hex]
                    + ([] if expected is None else [expected]),
                )
                found = cursor.fetchone()
        if found is None:
            return None
        stream = Stream(
            pk=found[0],
            uuid=stream_id,
            name=stream_id.name,
            category=category,
            tenant_id=self._tenant_id,
            version=version,
        )
        stream._state.adding, stream._state.db = False, self._database
        return stream

    def _create_stream(self, stream_id: StreamId, version: int | None) -> Stream | None:
        """Insert the stream row; ``None`` when another writer inserted it first."""
        try:
            with transaction.atomic(using=self._database):
                return Stream.objects.using(self._database).create(
                    uuid=stream_id,
                    name=stream_id.name,
                    category=category_of(stream_id),
                    tenant_id=self._tenant_id,
                    version=version,
                )
        except IntegrityError:
            return None

    def _event_row(self, stream: Stream, raw: RawEvent, tx_id: int | None) -> Event:
        return Event(
            stream=stream,
            version=raw.version,
            uuid=raw.uuid,
            name=raw.name,
            data=raw.data,
            context=raw.context,
            created_at=to_db(raw.created_at),
            category=stream.category,
            tenant_id=stream.tenant_id,
            tx_id=tx_id,
        )

    def _transaction_id(self) -> int | None:
        """The current PostgreSQL transaction id (the events' ``tx_id``); ``None`` on SQLite."""
        connection = connections[self._database]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            row = cursor.fetchone()
        return int(row[0])


def _check_claimable(stream: Stream | None, versioning: Versioning) -> None:
    """Raise unless an append with ``versioning`` may claim ``stream`` (``None``: missing).

    Raises:
        ConcurrentStreamWriteError: The stream is not at the expected version (a missing
            stream is at version 0).
        VersioningMismatch: Versioned and unversioned appends were mixed.
    """
    expected = versioning.expected_version
    if stream is None:
        if versioning is not NO_VERSIONING and expected != 0:
            raise ConcurrentStreamWriteError(None, expected)
        return
    versioning.validate_if_compatible(stream.version)
    if stream.version != expected:
        raise ConcurrentStreamWriteError(stream.version, expected)


def _version_range(start: int | None, stop: int | None) -> Q:
    condition = Q()
    if start is not None:
        condition &= Q(version__gte=start)
    if stop is not None:
        condition &= Q(version__lt=stop)
    return condition
