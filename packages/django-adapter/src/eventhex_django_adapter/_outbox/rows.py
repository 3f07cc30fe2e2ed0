"""Outbox rows decoded: a ``RecordedRaw`` for ``Outbox.run``, an ``OutboxMessage`` for the relay.

Both read the same row, the columns of :data:`COLUMNS` in that order, as
:class:`~eventhex_django_adapter._outbox.table.OutboxTable` returns it: on PostgreSQL decoded by
the driver (uuids, numbers, JSON), on SQLite with the uuids as text, so that a damaged one
reaches the decoder. A relay dead-letters a row it cannot decode (:class:`CorruptOutboxRow`) and
lists dead rows leniently, with unreadable fields replaced.
"""

from collections.abc import Mapping, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import RecordedRaw

from eventhex_core_ports._internal.records import raw_event, recorded_raw
from eventhex_core_ports.errors import StoredJsonUnreadable
from eventhex_core_ports.ports.relay import OutboxMessage
from eventhex_django_adapter._codec import context_sql, context_value, from_db, json_value

__all__ = [
    "COLUMNS",
    "SELECT_LIST",
    "CorruptOutboxRow",
    "StreamIds",
    "dead_letter_from_row",
    "message_from_row",
    "record_from_row",
]

COLUMNS = (
    "id",
    "event_uuid",
    "event_name",
    "stream_uuid",
    "stream_name",
    "stream_category",
    "tenant_id",
    "version",
    "position",
    "created_at",
    "data",
    "context",
    "attempts",
    "max_attempts",
    "last_error",
)
"""The columns of a row, in this order."""

SELECT_LIST = ", ".join(
    context_sql("o.context") if column == "context" else f"o.{column}" for column in COLUMNS
)
""":data:`COLUMNS` as PostgreSQL selects them from ``eventhex_outboxentry o`` (the plain
context as NULL, see :func:`context_sql`)."""

_NO_UUID = UUID(int=0)


class CorruptOutboxRow(ValueError):
    """An outbox row that cannot become a message (damaged by hand or by a faulty writer)."""


class StreamIds:
    """The stream ids of one batch's rows, each built once (a named one checks its uuid)."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, Any, Any], StreamId] = {}

    def of(self, row: Sequence[Any]) -> StreamId:
        """The stream id of ``row``."""
        key = (row[3], row[4], row[5])
        found = self._known.get(key)
        if found is None:
            uuid = _uuid(row[3], "stream_uuid", strict=True)
            found = self._known[key] = StreamId(uuid=uuid, name=row[4], category=row[5] or None)
        return found


def record_from_row(row: Sequence[Any], stream_ids: StreamIds) -> RecordedRaw:
    """The record ``Outbox.run`` hands out for ``row`` (built as the constructors build it,
    without validating again what the driver decoded).

    Raises:
        StoredJsonUnreadable: Its data or context nests too deeply to decode.
    """
    (_, event_uuid, name, _, _, _, tenant_id, version) = row[:8]
    position, created_at, data, context = row[8:12]
    entry = raw_event(
        _uuid(event_uuid, "event_uuid", strict=True),
        stream_ids.of(row),
        from_db(created_at),
        name,
        json_value(data),
        context_value(context),
        version,
    )
    return recorded_raw(entry, int(position), tenant_id)


def message_from_row(row: Sequence[Any]) -> OutboxMessage:
    """The message a row holds.

    Raises:
        CorruptOutboxRow: A field does not decode (the reason names it).
    """
    try:
        return _message(row, strict=True)
    except (ValueError, TypeError, AttributeError) as error:
        raise CorruptOutboxRow(str(error)) from error


def dead_letter_from_row(row: Sequence[Any]) -> OutboxMessage:
    """The message a dead row holds, with unreadable fields replaced so it can still be listed."""
    try:
        return _message(row, strict=True)
    except (ValueError, TypeError, AttributeError):
        return _message(row, strict=False)


def _message(row: Sequence[Any], *, strict: bool) -> OutboxMessage:
    (entry_id, event_uuid, name, stream_uuid, stream_name, category, tenant, version) = row[:8]
    position, created_at, data, context, attempts, max_attempts, last_error = row[8:]
    return OutboxMessage(
        entry_id=entry_id,
        event_uuid=_uuid(event_uuid, "event_uuid", strict),
        event_name=name,
        stream_uuid=_uuid(stream_uuid, "stream_uuid", strict),
        stream_name=stream_name,
        stream_category=category,
        tenant_id=tenant,
        version=version,
        position=_position(position, strict),
        created_at=from_db(created_at).replace(tzinfo=UTC),
        data=_object(data, "data", strict),
        context=_object(context, "context", strict),
        attempts=attempts,
        max_attempts=max_attempts,
        last_error=last_error,
    )


def _uuid(value: Any, field: str, strict: bool) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        if strict:
            raise ValueError(f"{field} is not a uuid: {value!r}") from None
        return _NO_UUID


def _position(value: Any, strict: bool) -> int:
    try:
        return int(value) if isinstance(value, str) else int(Decimal(value))
    except (ValueError, ArithmeticError):
        if strict:
            raise ValueError(f"position is not an integer: {value!r}") from None
        return 0


def _object(value: Any, field: str, strict: bool) -> Mapping[str, Any]:
    if value is None and field == "context":  # the plain context, see ``SELECT_LIST``
        return dict(context_value(None))
    if isinstance(value, (str, bytes)):  # JSON text (psycopg2, SQLite, or nested too deeply)
        try:
            value = json_value(value)
        except StoredJsonUnreadable as error:
            if strict:
                raise ValueError(f"{field}: {error}") from None
            return {"corrupt": f"{value[:80]!r}... ({error})"}
        except ValueError:
            pass
    if isinstance(value, Mapping):
        return value
    if strict:
        raise ValueError(f"{field} is not a JSON object: {value!r:.80}")
    return {"corrupt": value}
