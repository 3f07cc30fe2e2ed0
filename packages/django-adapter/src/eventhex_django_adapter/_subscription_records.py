"""Turning event rows, as the subscription queries return them, into ``RecordedRaw``."""

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import RawEvent, RecordedRaw

from eventhex_core_ports.serde import FreshJson
from eventhex_django_adapter._datetimes import from_db

__all__ = ["EVENT_COLUMNS", "RecordBuilder", "context_sql", "context_value", "fresh", "json_value"]

_PLAIN_CONTEXT = '{"causation_id": null, "correlation_id": null}'
"""The context event_sourcery stores for an event without correlation, causation or components."""


def context_sql(column: str) -> str:
    """Select the context ``column``, or NULL when it holds the plain context.

    Most events carry the plain context; sending NULL instead saves PostgreSQL printing it and
    Python parsing it, a fifth of the JSON of a typical row (read it with :func:`context_value`).
    """
    return f"NULLIF({column}, '{_PLAIN_CONTEXT}'::jsonb)"


def context_value(value: Any) -> Any:
    """The context selected with :func:`context_sql`."""
    if value is None:
        return FreshJson(causation_id=None, correlation_id=None)
    return json_value(value)


EVENT_COLUMNS = (
    f"e.uuid, e.name, e.data, {context_sql('e.context')}, e.created_at, e.version, e.category, "
    "e.tenant_id, s.uuid, s.name"
)
"""The SQL select list (event alias ``e``, stream alias ``s``) that :class:`RecordBuilder` reads."""


def fresh(value: Any) -> Any:
    """A JSON value decoded for one read, objects marked ``FreshJson`` (see ``FastSerde``)."""
    return FreshJson(value) if type(value) is dict else value


def json_value(value: Any) -> Any:
    """A JSON column's value: decoded already (binary rows), or JSON text to decode."""
    return fresh(json.loads(value)) if isinstance(value, (str, bytes)) else value


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
        """The record of one row selected with :data:`EVENT_COLUMNS`."""
        (uuid, name, data, context, created_at, version, category, tenant_id) = row[:8]
        entry = RawEvent(
            uuid=_uuid(uuid),
            stream_id=self._stream_id(row[8], row[9], category),
            created_at=self._created_at(created_at),
            name=name,
            data=json_value(data),
            context=context_value(context),
            version=version,
        )
        return RecordedRaw(entry=entry, position=position, tenant_id=tenant_id)
