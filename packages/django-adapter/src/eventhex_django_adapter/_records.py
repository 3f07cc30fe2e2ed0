"""Conversions between ORM rows and event_sourcery's raw records, and position encoding."""

from event_sourcery import StreamId
from event_sourcery.event import Position, RawEvent

from eventhex_django_adapter import _position
from eventhex_django_adapter._datetimes import from_db
from eventhex_django_adapter.models import Event, Snapshot, Stream

__all__ = ["category_of", "encode_position", "raw_event", "stream_id_of"]


def category_of(stream_id: StreamId) -> str:
    """The stored category of ``stream_id`` (``""`` for none)."""
    return stream_id.category or ""


def stream_id_of(stream: Stream) -> StreamId:
    """The ``StreamId`` of a stored stream."""
    return StreamId(uuid=stream.uuid, name=stream.name, category=stream.category or None)


def encode_position(tx_id: int | None, row_id: int) -> Position:
    """An event's position: its id on SQLite, ``(tx_id << 64) | id`` on PostgreSQL."""
    return row_id if tx_id is None else _position.encode(tx_id, row_id)


def raw_event(row: Event | Snapshot, stream_id: StreamId) -> RawEvent:
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
