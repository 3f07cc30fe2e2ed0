"""Loading a stream: its events in ``[start, stop)``, from the newest snapshot in that range.

:func:`load_stream` returns that snapshot first, then the events after it. The events of an
unversioned stream carry no versions, so ``[start, stop)`` picks them by their order instead.
On SQLite the ORM reads the stream, the snapshot and the events in three queries.

On PostgreSQL one query reads all three (``eventhex_load_stream``, whose plan
does not depend on the tables' statistics: ADR 0015). Its first row (``kind`` 0) describes the
stream (its name and version) and carries the newest snapshot with ``start <= version < stop``,
if any; the following rows (``kind`` 1) are the events to return, in order: after that
snapshot (and before ``stop``), or, without a snapshot, those with ``start <= version < stop``
plus the unversioned ones. No row at all means there is no stream. Rows are fetched as tuples
(in binary with psycopg 3, see :func:`.._db.fetch`).
"""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connections
from django.db.models import Q, QuerySet
from event_sourcery import StreamId
from event_sourcery.event import RawEvent, WrappedEvent

from eventhex_core_ports._internal import records
from eventhex_core_ports._internal.collector import collector_paused
from eventhex_core_ports.errors import StoredJsonUnreadable, UndecodableEvent
from eventhex_core_ports.ports.decoded_reads import StoredEventDecoder
from eventhex_django_adapter._codec import (
    context_value,
    created_at_sql,
    event_context_sql,
    from_db,
    json_text,
    json_value,
    stored_context,
    stream_id_of,
)
from eventhex_django_adapter._db import driver_is_psycopg3, fetch
from eventhex_django_adapter._storage.stream_rows import streams
from eventhex_django_adapter.models import Event, Snapshot

__all__ = ["LoadedStream", "load_postgres", "load_stream", "load_with_orm", "load_wrapped"]

T = TypeVar("T")
U = TypeVar("U")

_LOADS = {
    use_tz: f"""SELECT r.kind, r.id, r.stream_name, r.stream_version, r.uuid, r.name, r.data,
       {event_context_sql("r.context")}, {created_at_sql("r.created_at", use_tz)}, r.version
FROM eventhex_load_stream(%(tenant)s, %(category)s, %(stream)s, %(start)s, %(stop)s) r"""
    for use_tz in (True, False)
}
"""Migration 0008's function, whose plan does not depend on statistics, by ``USE_TZ``
(``created_at`` comes back naive, see :func:`.._codec.created_at_sql`); its rows come back in
the order it returned them."""


def load_stream(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    start: int | None,
    stop: int | None,
    prepare: bool = True,
) -> list[RawEvent]:
    """The stream's events in ``[start, stop)``, from the newest snapshot in that range.

    ``prepare``: let psycopg prepare the load on the connection (see :mod:`.._db`).
    """
    return _load(alias, tenant_id, stream_id, start, stop, prepare, _raw_event, _same, False)


def load_wrapped(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    start: int | None,
    stop: int | None,
    decoder: StoredEventDecoder,
    prepare: bool = True,
) -> list[WrappedEvent[Any]]:
    """What :func:`load_stream` returns, each event built by ``decoder``; on PostgreSQL the
    payloads go to it as the JSON text read (see ``FastSerde.wrap_stored``)."""

    def from_row(row: tuple[Any, ...], found: StreamId) -> WrappedEvent[Any]:
        context = stored_context(row[7])
        return decoder.wrap_stored(row[5], row[6], context, row[4], from_db(row[8]), row[9], found)

    def from_raw(raw: RawEvent) -> WrappedEvent[Any]:
        return decoder.wrap_stored(
            raw.name, raw.data, raw.context, raw.uuid, raw.created_at, raw.version, raw.stream_id
        )

    return _load(alias, tenant_id, stream_id, start, stop, prepare, from_row, from_raw, True)


def _same(raw: RawEvent) -> RawEvent:
    return raw


def _load(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    start: int | None,
    stop: int | None,
    prepare: bool,
    from_row: Callable[[tuple[Any, ...], StreamId], T],
    from_raw: Callable[[RawEvent], T],
    json_text: bool,
) -> list[T]:
    with collector_paused():
        if connections[alias].vendor == "postgresql":
            loaded = load_postgres(
                alias, tenant_id, stream_id, start, stop, prepare, from_row, json_text
            )
        else:
            orm = load_with_orm(alias, tenant_id, stream_id, start, stop)
            loaded = None if orm is None else orm.map(from_raw)
    if loaded is None:
        return []
    found = loaded.events
    if loaded.version is None and (start is not None or stop is not None):
        found = found[(start or 1) - 1 : stop and stop - 1]
    return [loaded.snapshot, *found] if loaded.snapshot is not None else found


class LoadedStream(Generic[T]):
    """What one load query found: the stream's stored version and the events to return."""

    __slots__ = ("events", "snapshot", "version")

    def __init__(self, version: int | None, snapshot: T | None, events: list[T]):
        self.version = version
        self.snapshot = snapshot
        self.events = events

    def map(self, build: Callable[[T], U]) -> "LoadedStream[U]":
        """The same stream with every event rebuilt by ``build``."""
        snapshot = None if self.snapshot is None else build(self.snapshot)
        return LoadedStream(self.version, snapshot, [build(event) for event in self.events])


def load_postgres(
    alias: str,
    tenant_id: str,
    stream_id: StreamId,
    start: int | None,
    stop: int | None,
    prepare: bool,
    from_row: Callable[[tuple[Any, ...], StreamId], T],
    json_text: bool = False,
) -> LoadedStream[T] | None:
    """Read the stream ``stream_id`` of ``tenant_id``, each event built by ``from_row`` (from
    its row and its stream); ``None`` when the stream does not exist. ``json_text``: read
    payloads as JSON text."""
    binary = driver_is_psycopg3()
    params = {
        "tenant": tenant_id,
        "category": stream_id.category or "",
        "stream": stream_id,
        "start": start,
        "stop": stop,
    }
    rows = fetch(alias, _LOADS[settings.USE_TZ], params, binary, prepare, json_text=json_text)
    if not rows:
        return None
    head = rows[0]
    found_id = StreamId(uuid=stream_id, name=head[2], category=stream_id.category or None)
    try:
        events = [from_row(row, found_id) for row in rows[1:]]
        snapshot = from_row(head, found_id) if head[4] is not None else None
    except _UNREADABLE:
        raise _undecodable(rows, lambda row: from_row(row, found_id), found_id) from None
    return LoadedStream(head[3], snapshot, events)


_UNREADABLE = (StoredJsonUnreadable, UndecodableEvent)


def _undecodable(
    rows: list[tuple[Any, ...]], build: Callable[[tuple[Any, ...]], object], stream_id: StreamId
) -> UndecodableEvent:
    """``UndecodableEvent`` naming the first of ``rows`` that ``build`` cannot decode (a
    snapshot row comes first, then the events): the load of this stream alone fails."""
    for row in rows:
        if row[4] is None:  # the head row of a stream without a snapshot in range
            continue
        try:
            build(row)
        except _UNREADABLE as error:
            found = error if isinstance(error, UndecodableEvent) else UndecodableEvent(str(error))
            return found.at(event_uuid=row[4], stream_id=stream_id, name=row[5])
    return UndecodableEvent("it failed to decode", stream_id=stream_id)


def _raw_event(row: tuple[Any, ...], stream_id: StreamId) -> RawEvent:
    return records.raw_event(
        row[4],
        stream_id,
        from_db(row[8]),
        row[5],
        json_value(row[6]),
        context_value(row[7]),
        row[9],
    )


def load_with_orm(
    alias: str, tenant_id: str, stream_id: StreamId, start: int | None, stop: int | None
) -> LoadedStream[RawEvent] | None:
    """Read the stream through the ORM (SQLite); ``None`` when it does not exist.

    Raises:
        UndecodableEvent: A stored snapshot or event of this stream cannot be decoded.
    """
    stream = streams(alias, tenant_id, stream_id).first()
    if stream is None:
        return None
    found_id = stream_id_of(stream)
    snapshots = Snapshot.objects.using(alias).filter(stream=stream)
    snapshots = snapshots.filter(_version_range(start, stop))
    snapshot = _orm_rows(snapshots.order_by("-version"), found_id, limit=1)
    events = Event.objects.using(alias).filter(stream=stream)
    if snapshot:
        events = events.filter(_version_range(None, stop), version__gt=snapshot[0].version)
    elif start is not None or stop is not None:
        events = events.filter(_version_range(start, stop) | Q(version__isnull=True))
    found = _orm_rows(events.order_by("version", "id"), found_id)
    return LoadedStream(stream.version, snapshot[0] if snapshot else None, found)


def _orm_rows(rows: QuerySet[Any], stream_id: StreamId, limit: int | None = None) -> list[RawEvent]:
    """The ``RawEvent``s of the first ``limit`` event or snapshot ``rows``, their JSON decoded
    row by row (Django's ``JSONField`` would let a ``RecursionError`` out)."""
    values = rows.annotate(data_text=json_text("data"), context_text=json_text("context"))
    found = []
    for uuid, created_at, name, data, context, version in values.values_list(
        "uuid", "created_at", "name", "data_text", "context_text", "version"
    )[:limit]:
        try:
            data, context = json_value(data), json_value(context)
        except StoredJsonUnreadable as error:
            raise UndecodableEvent(
                str(error), event_uuid=uuid, stream_id=stream_id, name=name
            ) from None
        found.append(
            RawEvent(
                uuid=uuid,
                stream_id=stream_id,
                created_at=from_db(created_at),
                name=name,
                data=data,
                context=context,
                version=version,
            )
        )
    return found


def _version_range(start: int | None, stop: int | None) -> Q:
    condition = Q()
    if start is not None:
        condition &= Q(version__gte=start)
    if stop is not None:
        condition &= Q(version__lt=stop)
    return condition
