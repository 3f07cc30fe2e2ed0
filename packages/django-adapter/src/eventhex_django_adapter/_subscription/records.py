"""Turning event rows, as the subscription queries return them, into ``RecordedRaw``s, or into
finished ``Recorded``s when a decoder builds the events."""

from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import Recorded, RecordedRaw

from eventhex_core_ports._internal.records import raw_event, recorded, recorded_raw
from eventhex_core_ports.errors import UndecodableEvent
from eventhex_core_ports.ports.decoded_reads import StoredEventDecoder
from eventhex_django_adapter._codec import (
    context_value,
    created_at_sql,
    event_context_sql,
    format_position,
    from_db,
    json_value,
    stored_context,
)

__all__ = ["RecordBuilder", "read_columns"]


def read_columns(use_tz: bool) -> str:
    """The select list over a read function's rows (alias ``r``): the event's id and ``tx_id``,
    then the columns :meth:`RecordBuilder.build` reads (``created_at`` naive, see
    :func:`.._codec.created_at_sql`)."""
    # The payload and the stream's uuid come as text: the driver's C text loader is cheaper
    # than a Python jsonb loader call, and a stream's uuid is parsed once per batch (see
    # RecordBuilder), not once per row.
    return (
        f"r.id, r.tx_id, r.uuid, r.name, r.data::text, {event_context_sql('r.context')}, "
        f"{created_at_sql('r.created_at', use_tz)}, "
        "r.version, r.category, r.tenant_id, r.stream_uuid::text, r.stream_name"
    )


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class RecordBuilder:
    """Builds the records of one batch; each stream's id is built once."""

    def __init__(self) -> None:
        self._streams: dict[tuple[Any, Any, Any], StreamId] = {}

    def _stream_id(self, uuid: Any, name: Any, category: Any) -> StreamId:
        key = (uuid, name, category)
        found = self._streams.get(key)
        if found is None:
            found = StreamId(uuid=_uuid(uuid), name=name, category=category or None)
            self._streams[key] = found
        return found

    def build(self, position: int, row: tuple[Any, ...]) -> RecordedRaw:
        """The record at ``position`` of one row selected with :func:`read_columns`."""
        _, _, uuid, name, data, context, created, version, category, tenant, s_uuid, s_name = row
        entry = raw_event(
            _uuid(uuid),
            self._stream_id(s_uuid, s_name, category),
            from_db(created),
            name,
            json_value(data),
            context_value(context),
            version,
        )
        return recorded_raw(entry, position, tenant)

    def undecodable(
        self, error: Exception, position: int, row: tuple[Any, ...]
    ) -> UndecodableEvent:
        """``UndecodableEvent`` for the row at ``position`` that raised ``error``."""
        _, _, uuid, name, _, _, _, _, category, _, s_uuid, s_name = row
        if not isinstance(error, UndecodableEvent):
            error = UndecodableEvent(str(error))
        return error.at(
            position=position,
            shown_position=format_position(position),
            event_uuid=_uuid(uuid),
            stream_id=self._stream_id(s_uuid, s_name, category),
            name=name,
        )

    def build_recorded(
        self, position: int, row: tuple[Any, ...], decoder: StoredEventDecoder
    ) -> Recorded:
        """The finished ``Recorded`` of the same row, its event built by ``decoder`` (the
        payload as read: JSON text, or a mapping)."""
        _, _, uuid, name, data, context, created, version, category, tenant, s_uuid, s_name = row
        stream_id = self._stream_id(s_uuid, s_name, category)
        wrapped = decoder.wrap_stored(
            name,
            data,
            stored_context(context),
            _uuid(uuid),
            from_db(created),
            version,
            stream_id,
        )
        return recorded(wrapped, stream_id, position, tenant)
