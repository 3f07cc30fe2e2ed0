"""One query per batch: the next readable events after a position, in commit order.

PostgreSQL: an event is readable once every transaction that could still commit before it has
ended, i.e. its transaction id is below the ``xmin`` of the current snapshot (the oldest
transaction still running), so a reader never moves past an event that may still appear. The
reader's own transaction is the one exception: its events are readable to itself, ordered after
everything committed before it. Reads are ordered by ``(tx_id, id)`` and resume strictly after the
decoded position. The horizon is taken from the statement's own snapshot, so every query sees a
fresh one, and carries the store's shift like the stored ``tx_id`` (see
:mod:`.._position_clock`). Each read is a call of one of the SQL functions of ``reads.sql``,
whose plans do not depend on the table's statistics: they walk the ``(tx_id, id)``,
``(category, tx_id, id)`` or ``(name, tx_id, id)`` index and stop after ``limit`` rows (ADR 0015).

SQLite: one writer at a time makes id order commit order; reads are ordered by id.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

from eventhex_core_ports._internal.collector import collector_paused
from eventhex_core_ports.errors import StoredJsonUnreadable, UndecodableEvent
from eventhex_core_ports.ports.decoded_reads import StoredEventDecoder
from eventhex_django_adapter import _codec
from eventhex_django_adapter._db import driver_is_psycopg3, fetch, raise_if_unmigrated
from eventhex_django_adapter._subscription.read_ahead import (
    ReadAhead,
    build_while_reading,
    can_read_ahead,
)
from eventhex_django_adapter._subscription.records import RecordBuilder, read_columns
from eventhex_django_adapter.models import Event

__all__ = ["EventSelection", "newest_readable_position", "read_after"]


@dataclass(frozen=True)
class EventSelection:
    """Which events a subscription wants: all, one category, or some event names."""

    category: str | None = None
    names: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, category: str | None = None, names: Iterable[str] | None = None
    ) -> "EventSelection":
        """Events with one of ``names`` (repeats dropped) when given, else the events of
        ``category`` when given, else all events."""
        if names is not None:
            return cls(names=tuple(dict.fromkeys(names)))
        return cls(category=category)


_READS = {
    (kind, use_tz): f"SELECT {read_columns(use_tz)} FROM {call} r"
    for kind, call in (
        ("all", "eventhex_read_all(%s, %s, %s)"),
        ("category", "eventhex_read_category(%s, %s, %s, %s)"),
        ("names", "eventhex_read_names(%s::text[], %s, %s, %s)"),
    )
    for use_tz in (True, False)
}
"""The page queries by selection and ``USE_TZ``. A function's rows come back in the order it
returned them: no ``ORDER BY`` is needed."""

_NEWEST = "SELECT tx_id, id FROM eventhex_newest_position()"


def _read_postgres(
    alias: str,
    selection: EventSelection,
    after: int,
    limit: int,
    prepare: bool,
    decoder: StoredEventDecoder | None,
    ahead: ReadAhead | None,
) -> list[Any]:
    tx_id, event_id = _codec.decode(after)
    kind, params = "all", list[object]([tx_id, event_id, limit])
    if selection.names is not None:
        kind, params = "names", [list(selection.names), *params]
    elif selection.category is not None:
        kind, params = "category", [selection.category, *params]
    sql = _READS[kind, settings.USE_TZ]
    json_text = decoder is not None
    rows = ahead.take((alias, sql, repr(params))) if ahead is not None else None
    if rows is None:
        rows = fetch(alias, sql, params, driver_is_psycopg3(), prepare, json_text=json_text)

    def build() -> list[Any]:
        return _records(rows, decoder)

    if ahead is None or not ahead.page_read(len(rows), limit) or not can_read_ahead(alias):
        return build()
    params[-3:-1] = [rows[-1][1], rows[-1][0]]  # after this page's last (tx_id, id)
    records, next_rows = build_while_reading(alias, sql, params, prepare, json_text, build)
    if next_rows is not None and len(next_rows) == limit:
        ahead.keep((alias, sql, repr(params)), next_rows)
    return records


def _records(rows: Sequence[tuple[Any, ...]], decoder: StoredEventDecoder | None) -> list[Any]:
    """The records of rows read with :func:`.records.read_columns` from PostgreSQL."""
    builder = RecordBuilder()
    encode = _codec.encode
    try:
        if decoder is not None:
            build = builder.build_recorded
            return [build(encode(row[1], row[0]), row, decoder) for row in rows]
        return [builder.build(encode(row[1], row[0]), row) for row in rows]
    except _UNREADABLE:
        return _readable_prefix(rows, [encode(row[1], row[0]) for row in rows], decoder)


def _read_sqlite(
    alias: str,
    selection: EventSelection,
    after: int,
    limit: int,
    decoder: StoredEventDecoder | None,
) -> list[Any]:
    events = Event.objects.using(alias).filter(id__gt=min(max(after, 0), _codec.BIGINT_MAX))
    if selection.category is not None:
        events = events.filter(category=selection.category)
    if selection.names is not None:
        events = events.filter(name__in=selection.names)
    events = events.annotate(
        data_text=_codec.json_text("data"), context_text=_codec.json_text("context")
    )
    query = events.order_by("id").values_list(
        "id",
        "id",  # where PostgreSQL's rows have the tx_id: the rows' layout is the same
        "uuid",
        "name",
        "data_text",  # decoded row by row (see json_text)
        "context_text",
        "created_at",
        "version",
        "category",
        "tenant_id",
        "stream__uuid",
        "stream__name",
    )
    rows: list[tuple[Any, ...]] = list(query[:limit])
    builder = RecordBuilder()
    try:
        if decoder is not None:
            return [builder.build_recorded(row[0], row, decoder) for row in rows]
        return [builder.build(row[0], row) for row in rows]
    except _UNREADABLE:
        return _readable_prefix(rows, [row[0] for row in rows], decoder)


_UNREADABLE = (StoredJsonUnreadable, UndecodableEvent)


def _readable_prefix(
    rows: Sequence[tuple[Any, ...]], positions: list[int], decoder: StoredEventDecoder | None
) -> list[Any]:
    """The records of ``rows`` before the first one that cannot be decoded; when that is the
    first row, raise ``UndecodableEvent`` naming it (built again one by one: only after a
    batch failed, so reads that succeed pay nothing)."""
    builder = RecordBuilder()
    found: list[Any] = []
    for position, row in zip(positions, rows, strict=True):
        try:
            if decoder is not None:
                found.append(builder.build_recorded(position, row, decoder))
            else:
                found.append(builder.build(position, row))
        except _UNREADABLE as error:
            if found:
                return found  # delivered first; the next read starts at this row and raises
            raise builder.undecodable(error, position, row) from None
    return found


def read_after(
    alias: str,
    selection: EventSelection,
    after: int,
    limit: int,
    prepare: bool = True,
    decoder: StoredEventDecoder | None = None,
    ahead: ReadAhead | None = None,
) -> list[Any]:
    """Return up to ``limit`` readable events after position ``after``, in commit order:
    ``RecordedRaw``s, or ``Recorded``s built by ``decoder`` when one is given.

    A batch stops before an event that cannot be decoded; when that event comes first, the
    read raises ``UndecodableEvent`` naming its position, event id and stream.

    ``prepare``: let psycopg prepare the read on the connection (see :mod:`.._db`).
    ``ahead``: the calling subscription's read-ahead state; with it, a subscription catching
    up on PostgreSQL reads its next page while this one's records are built (see
    :mod:`.read_ahead`).
    """
    if limit <= 0 or (selection.names is not None and not selection.names):
        return []
    try:
        with collector_paused():
            if connections[alias].vendor == "postgresql":
                return _read_postgres(alias, selection, after, limit, prepare, decoder, ahead)
            return _read_sqlite(alias, selection, after, limit, decoder)
    except DatabaseError as error:
        raise_if_unmigrated(error, alias)
        raise


def newest_readable_position(alias: str) -> int:
    """Return the position of the newest event a subscription could read now (0 when none).

    ``start_from`` this position yields exactly the events that become readable afterwards.
    """
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(_NEWEST)
                row = cursor.fetchone()
                return _codec.encode(row[0], row[1]) if row else 0
            cursor.execute(f"SELECT MAX(id) FROM {Event._meta.db_table}")
            newest = cursor.fetchone()
            return int(newest[0]) if newest and newest[0] is not None else 0
    except DatabaseError as error:
        raise_if_unmigrated(error, alias)
        raise
