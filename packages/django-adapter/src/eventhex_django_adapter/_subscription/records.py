"""Turning event rows, as the subscription queries return them, into ``RecordedRaw``s, or into
finished ``Recorded``s when a decoder builds the events."""

from datetime import datetime
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import Recorded, RecordedRaw

from eventhex_core_ports.ports.decoded_reads import StoredEventDecoder
from eventhex_core_ports.records import raw_event, recorded, recorded_raw
from eventhex_django_adapter._codec import context_sql, context_value, from_db, json_value

__all__ = ["READ_COLUMNS", "RecordBuilder"]

READ_COLUMNS = (
    f"r.id, r.tx_id, r.uuid, r.name, r.data, {context_sql('r.context')}, r.created_at, "
    "r.version, r.category, r.tenant_id, r.stream_uuid, r.stream_name"
)
"""The select list over a read function's rows (alias ``r``): the event's id and ``tx_id``,
then the columns :meth:`RecordBuilder.build` reads."""


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class RecordBuilder:
    """Builds the records of one batch; each stream's id is built once.

    Args:
        naive_local: Drop the time zone of ``created_at`` before the usual conversion (rows
            read in binary on PostgreSQL under ``USE_TZ = False`` come back aware in the
            session's time zone, where the ORM would return the naive local value).
    """

    def __init__(self, naive_local: bool = False) -> None:
        self._naive_local = naive_local
        self._streams: dict[tuple[Any, Any, Any], StreamId] = {}

    def _stream_id(self, uuid: Any, name: Any, category: Any) -> StreamId:
        key = (uuid, name, category)
        found = self._streams.get(key)
        if found is None:
            found = StreamId(uuid=_uuid(uuid), name=name, category=category or None)
            self._streams[key] = found
        return found

    def _created_at(self, value: datetime) -> datetime:
        return from_db(value.replace(tzinfo=None) if self._naive_local else value)

    def build(self, position: int, row: tuple[Any, ...]) -> RecordedRaw:
        """The record of one row selected with :data:`READ_COLUMNS`, past id and ``tx_id``."""
        (uuid, name, data, context, created_at, version, category, tenant_id) = row[:8]
        entry = raw_event(
            _uuid(uuid),
            self._stream_id(row[8], row[9], category),
            self._created_at(created_at),
            name,
            json_value(data),
            context_value(context),
            version,
        )
        return recorded_raw(entry, position, tenant_id)

    def build_recorded(
        self, position: int, row: tuple[Any, ...], decoder: StoredEventDecoder
    ) -> Recorded:
        """The finished ``Recorded`` of the same row, its event built by ``decoder`` (the
        payload as read: JSON text, or a mapping)."""
        (uuid, name, data, context, created_at, version, category, tenant_id) = row[:8]
        stream_id = self._stream_id(row[8], row[9], category)
        wrapped = decoder.wrap_stored(
            name,
            data,
            None if context is None else json_value(context),
            _uuid(uuid),
            self._created_at(created_at),
            version,
            stream_id,
        )
        return recorded(wrapped, stream_id, position, tenant_id)
