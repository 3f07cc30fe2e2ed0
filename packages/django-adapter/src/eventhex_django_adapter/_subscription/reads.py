"""One query per batch: the next readable events after a position, in commit order.

PostgreSQL: an event is readable once every transaction that could still commit before it has
ended, i.e. its transaction id is below the ``xmin`` of the current snapshot (the oldest
transaction still running), so a reader never moves past an event that may still appear. The
reader's own transaction is the one exception: its events are readable to itself, ordered after
everything committed before it. Reads are ordered by ``(tx_id, id)`` and resume strictly after the
decoded position, using the ``(tx_id, id)``, ``(category, tx_id, id)`` and ``(name, tx_id, id)``
indexes. The horizon is taken from the statement's own snapshot, so every query sees a fresh one,
and carries the store's shift like the stored ``tx_id`` (see :mod:`.._position_clock`).

SQLite: one writer at a time makes id order commit order; reads are ordered by id.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from event_sourcery.event import RecordedRaw

from eventhex_django_adapter import _codec
from eventhex_django_adapter._db import driver_is_psycopg3, fetch
from eventhex_django_adapter._position_clock import SHIFT_SQL
from eventhex_django_adapter._subscription.records import EVENT_COLUMNS, RecordBuilder
from eventhex_django_adapter.models import Event, Stream

__all__ = ["EventSelection", "newest_readable_position", "read_after"]


@dataclass(frozen=True)
class EventSelection:
    """Which events a subscription wants: all, one category, or some event names."""

    category: str | None = None
    names: tuple[str, ...] | None = None


HORIZON = f"""
WITH horizon AS MATERIALIZED (
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint + clock.shift AS xmin,
           pg_current_xact_id_if_assigned()::text::bigint + clock.shift AS own
    FROM (SELECT {SHIFT_SQL} AS shift) clock
)"""
"""The read horizon of the statement's snapshot and the reader's own ``tx_id`` (if any), both
shifted like the stamps (see :mod:`.._position_clock`)."""

READABLE = """
    AND e.tx_id < (SELECT GREATEST(xmin, own + 1) FROM horizon)
    AND (e.tx_id < (SELECT xmin FROM horizon) OR e.tx_id = (SELECT own FROM horizon))"""
"""Committed below the horizon, or written by the reader's own transaction.

The first line bounds the index range scan; the second drops rows of other transactions between
the horizon and the reader's own transaction id.
"""


def _tables() -> tuple[str, str]:
    return Event._meta.db_table, Stream._meta.db_table


def _postgres_sql(selection: EventSelection) -> str:
    # Filter values are bound parameters, which PostgreSQL plans with their actual values: a
    # rare category or event name walks its (category|name, tx_id, id) index, a common one may
    # walk (tx_id, id) and filter. One sub-select per event name lets each pick its own index;
    # an outer sort merges them (at most ``limit`` rows each).
    events, streams = _tables()
    if selection.names is not None:
        per_name = f"""(SELECT e.* FROM {events} e
    WHERE e.name = %s AND (e.tx_id, e.id) > (%s, %s){READABLE}
    ORDER BY e.tx_id, e.id LIMIT %s)"""
        union = "\n    UNION ALL ".join([per_name] * len(selection.names))
        return f"""{HORIZON}
SELECT e.id, e.tx_id, {EVENT_COLUMNS}
FROM ({union}) e
JOIN {streams} s ON s.id = e.stream_id
ORDER BY e.tx_id, e.id LIMIT %s"""
    if selection.category is not None:
        return f"""{HORIZON}
SELECT e.id, e.tx_id, {EVENT_COLUMNS}
FROM {events} e JOIN {streams} s ON s.id = e.stream_id
WHERE e.category = %s AND (e.tx_id, e.id) > (%s, %s){READABLE}
ORDER BY e.tx_id, e.id LIMIT %s"""
    return f"""{HORIZON}
SELECT e.id, e.tx_id, {EVENT_COLUMNS}
FROM {events} e JOIN {streams} s ON s.id = e.stream_id
WHERE (e.tx_id, e.id) > (%s, %s){READABLE}
ORDER BY e.tx_id, e.id LIMIT %s"""


def _read_postgres(
    alias: str, selection: EventSelection, after: int, limit: int, prepare: bool
) -> list[RecordedRaw]:
    tx_id, event_id = _codec.decode(after)
    params: list[object]
    if selection.names is not None:
        params = [value for name in selection.names for value in (name, tx_id, event_id, limit)]
        params.append(limit)
    elif selection.category is not None:
        params = [selection.category, tx_id, event_id, limit]
    else:
        params = [tx_id, event_id, limit]
    binary = driver_is_psycopg3()
    rows = fetch(alias, _postgres_sql(selection), params, binary, prepare)
    builder = RecordBuilder(naive_local=binary and not settings.USE_TZ)
    return [builder.build(_codec.encode(row[1], row[0]), row[2:]) for row in rows]


def _read_sqlite(
    alias: str, selection: EventSelection, after: int, limit: int
) -> list[RecordedRaw]:
    events = Event.objects.using(alias).filter(id__gt=max(after, 0))
    if selection.category is not None:
        events = events.filter(category=selection.category)
    if selection.names is not None:
        events = events.filter(name__in=selection.names)
    rows = events.order_by("id").values_list(
        "id",
        "uuid",
        "name",
        "data",
        "context",
        "created_at",
        "version",
        "category",
        "tenant_id",
        "stream__uuid",
        "stream__name",
    )[:limit]
    builder = RecordBuilder()
    return [builder.build(row[0], row[1:]) for row in rows]


def read_after(
    alias: str, selection: EventSelection, after: int, limit: int, prepare: bool = True
) -> list[RecordedRaw]:
    """Return up to ``limit`` readable events after position ``after``, in commit order.

    ``prepare``: let psycopg prepare the read on the connection (see :mod:`.._db`).
    """
    if limit <= 0 or (selection.names is not None and not selection.names):
        return []
    if connections[alias].vendor == "postgresql":
        return _read_postgres(alias, selection, after, limit, prepare)
    return _read_sqlite(alias, selection, after, limit)


def newest_readable_position(alias: str) -> int:
    """Return the position of the newest event a subscription could read now (0 when none).

    ``start_from`` this position yields exactly the events that become readable afterwards.
    """
    events, _ = _tables()
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""{HORIZON}
SELECT e.tx_id, e.id FROM {events} e
WHERE TRUE{READABLE}
ORDER BY e.tx_id DESC, e.id DESC LIMIT 1"""
            )
            row = cursor.fetchone()
            return _codec.encode(row[0], row[1]) if row else 0
        cursor.execute(f"SELECT MAX(id) FROM {events}")
        newest = cursor.fetchone()
        return int(newest[0]) if newest and newest[0] is not None else 0
