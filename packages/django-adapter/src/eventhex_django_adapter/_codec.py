"""How values are stored and read back: positions, datetimes, JSON columns and records.

Positions: on PostgreSQL an event's place in commit order is the pair (``tx_id``, event id),
encoded as ``(tx_id << 64) | id`` so that integer order is pair order (SQL builds the same
number with :func:`position_sql`); on SQLite, where one writer at a time makes id order commit
order, the position is the event id itself. How ``tx_id`` is stamped lives in
:mod:`._position_clock`.

Datetimes: event_sourcery stamps events with naive UTC datetimes. They are stored as that
instant (aware UTC when ``USE_TZ`` is on, the same naive value when it is off) and always read
back as naive UTC, so a loaded event compares equal to the appended one. Aware datetimes are
converted to UTC.
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from event_sourcery import StreamId
from event_sourcery.event import Position, RawEvent

from eventhex_core_ports._internal.serde import FreshJson
from eventhex_core_ports._internal.stored_json import loads_stored
from eventhex_core_ports.upcasting import EVENT_VERSION_KEY

if TYPE_CHECKING:  # the relay imports this (through its outbox rows) before Django is set up
    from django.db.models import Expression

    from eventhex_django_adapter.models import Event, Snapshot, Stream

__all__ = [
    "BIGINT_MAX",
    "ID_BITS",
    "CommitPoint",
    "category_of",
    "context_sql",
    "context_value",
    "decode",
    "encode",
    "encode_position",
    "event_context_sql",
    "format_position",
    "fresh",
    "from_db",
    "json_text",
    "json_value",
    "position_sql",
    "raw_event",
    "stored_context",
    "stream_id_of",
    "to_db",
]

ID_BITS = 64
_ID_MASK = (1 << ID_BITS) - 1
BIGINT_MAX = (1 << 63) - 1


class CommitPoint(NamedTuple):
    """A decoded PostgreSQL position: the writing ``tx_id`` and the event id."""

    tx_id: int
    event_id: int


def encode(tx_id: int, event_id: int) -> int:
    """Encode (``tx_id``, event id) as one position; both must be non-negative."""
    return (tx_id << ID_BITS) | event_id


def decode(position: int | None) -> CommitPoint:
    """Decode a position; ``None`` and negative values mean "before everything".

    Both parts fit PostgreSQL's ``bigint``: a part past the largest one (no stored ``tx_id`` or
    id reaches it) is cut down to it, which leaves the events after the position unchanged.
    """
    if position is None or position <= 0:
        return CommitPoint(0, 0)
    return CommitPoint(min(position >> ID_BITS, BIGINT_MAX), min(position & _ID_MASK, BIGINT_MAX))


def encode_position(tx_id: int | None, row_id: int) -> Position:
    """An event's position: its id on SQLite (no ``tx_id``), :func:`encode` on PostgreSQL."""
    return row_id if tx_id is None else encode(tx_id, row_id)


def format_position(position: int | None) -> str:
    """A position as people read it: ``"725:1234"`` (``tx_id``:event id) on PostgreSQL.

    Positions that fit one 64-bit part (SQLite's event ids, the start) print as plain numbers;
    ``None`` and negative values print as ``"0"`` (before everything). For display only: the
    API and JSON output keep the integer.
    """
    if position is None or position <= 0:
        return "0"
    tx_id, event_id = position >> ID_BITS, position & _ID_MASK
    return str(event_id) if tx_id == 0 else f"{tx_id}:{event_id}"


def position_sql(tx_id: str, event_id: str) -> str:
    """PostgreSQL's :func:`encode` of the columns ``tx_id`` and ``event_id``, as ``numeric``."""
    return f"{tx_id}::numeric * {1 << ID_BITS} + {event_id}"


def to_db(value: datetime) -> datetime:
    """The value to store for ``value`` under the current ``USE_TZ``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=UTC) if settings.USE_TZ else value


def created_at_sql(column: str, use_tz: bool) -> str:
    """Select the ``timestamptz`` ``column`` as the naive datetime eventhex returns.

    Under ``USE_TZ`` that is UTC (what :func:`from_db` makes of an aware value); without it,
    the connection's local time, as Django's ORM returns it (Django sets the session's time
    zone to ``TIME_ZONE``). PostgreSQL converts it, so rows need no conversion in Python.
    """
    return f"({column} AT TIME ZONE 'UTC')" if use_tz else f"{column}::timestamp"


def from_db(value: datetime) -> datetime:
    """The naive UTC datetime for a value read from the database."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


_PLAIN_CONTEXT = '{"causation_id": null, "correlation_id": null}'
"""The context event_sourcery stores for an event without correlation, causation or components."""


def fresh(value: Any) -> Any:
    """A JSON value decoded for one read, objects marked ``FreshJson`` (see ``FastSerde``)."""
    return FreshJson(value) if type(value) is dict else value


def json_value(value: Any) -> Any:
    """A JSON column's value: decoded already (binary rows), or JSON text to decode.

    Raises:
        StoredJsonUnreadable: The text nests too deeply to decode (never ``RecursionError``).
    """
    return fresh(loads_stored(value)) if isinstance(value, (str, bytes)) else value


def json_text(column: str) -> "Expression":
    """Select the JSON ``column`` through the ORM as its stored text, not decoded by Django.

    Django's ``JSONField`` decodes with ``json.loads`` and lets a ``RecursionError`` escape the
    whole query; the adapter decodes the text itself with :func:`json_value`, row by row.
    """
    from django.db.models import ExpressionWrapper, F, TextField

    return ExpressionWrapper(F(column), output_field=TextField())


def context_sql(column: str) -> str:
    """Select the context ``column``, or NULL when it holds the plain context.

    Most events carry the plain context; sending NULL instead saves PostgreSQL printing it and
    Python parsing it, a fifth of the JSON of a typical row (read it with :func:`context_value`).
    """
    return f"NULLIF({column}, '{_PLAIN_CONTEXT}'::jsonb)"


def event_context_sql(column: str) -> str:
    """Select the context ``column`` of an event as :func:`context_sql` does, and only its
    schema version (a JSON number) when that is all it adds to the plain context.

    Events of a class at ``__event_version__`` 2 or more carry the version in their context
    (``eventhex_core_ports.upcasting``); this keeps their reads as cheap as the plain context's
    (read it with :func:`stored_context` or :func:`context_value`).
    """
    return (
        f"CASE WHEN {column} = '{_PLAIN_CONTEXT}'::jsonb THEN NULL "
        f"WHEN {column} - '{EVENT_VERSION_KEY}' = '{_PLAIN_CONTEXT}'::jsonb "
        f"THEN {column} -> '{EVENT_VERSION_KEY}' ELSE {column} END"
    )


def stored_context(value: Any) -> Any:
    """The context selected with :func:`event_context_sql`, as ``FastSerde.wrap_stored`` takes
    it: ``None`` for the plain context, an ``int`` for the plain context at that schema version
    (without a JSON decode), else the decoded context."""
    if value is None or type(value) is int:
        return value
    if type(value) is str and value.isdigit():
        return int(value)
    return json_value(value)


def context_value(value: Any) -> Any:
    """The context selected with :func:`context_sql` or :func:`event_context_sql`, as a
    mapping."""
    found = stored_context(value)
    if found is None:
        return FreshJson(causation_id=None, correlation_id=None)
    if type(found) is int:
        return FreshJson(causation_id=None, correlation_id=None, **{EVENT_VERSION_KEY: found})
    return found


def category_of(stream_id: StreamId) -> str:
    """The stored category of ``stream_id`` (``""`` for none)."""
    return stream_id.category or ""


def stream_id_of(stream: "Stream") -> StreamId:
    """The ``StreamId`` of a stored stream."""
    return StreamId(uuid=stream.uuid, name=stream.name, category=stream.category or None)


def raw_event(row: "Event | Snapshot", stream_id: StreamId) -> RawEvent:
    """The ``RawEvent`` stored in an event or snapshot row."""
    return RawEvent(
        uuid=row.uuid,
        stream_id=stream_id,
        created_at=from_db(row.created_at),
        name=row.name,
        data=row.data,
        context=row.context,
        version=row.version,
    )
