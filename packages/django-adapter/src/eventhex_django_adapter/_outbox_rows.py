"""Outbox rows as the relay's ``OutboxMessage``: strict for publishing, lenient for inspection."""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings

from eventhex_core_ports.ports.relay import OutboxMessage
from eventhex_django_adapter._datetimes import from_db

__all__ = [
    "COLUMNS",
    "CorruptOutboxRow",
    "dead_letter_from_row",
    "decode_json_columns",
    "message_from_row",
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
"""The columns a row must carry, in this order (the relay's claim query returns the same)."""

_NO_UUID = UUID(int=0)


class CorruptOutboxRow(ValueError):
    """An outbox row that cannot become a message (damaged by hand or by a faulty writer)."""


def message_from_row(row: Sequence[Any]) -> OutboxMessage:
    """The message a row holds.

    Raises:
        CorruptOutboxRow: A field does not decode (the reason names it).
    """
    try:
        return _decode(row, strict=True)
    except (ValueError, TypeError, AttributeError) as error:
        raise CorruptOutboxRow(str(error)) from error


def dead_letter_from_row(row: Sequence[Any]) -> OutboxMessage:
    """The message a dead row holds, with unreadable fields replaced so it can still be listed."""
    try:
        return _decode(row, strict=True)
    except (ValueError, TypeError, AttributeError):
        return _decode(row, strict=False)


def _decode(row: Sequence[Any], *, strict: bool) -> OutboxMessage:
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
        created_at=_utc(created_at),
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
    if isinstance(value, Mapping):
        return value
    if strict:
        raise ValueError(f"{field} is not a JSON object: {value!r:.80}")
    return {"corrupt": value}


def decode_json_columns(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row whose ``data`` and ``context`` arrived as JSON text, with both decoded."""
    data, context = (json.loads(value) for value in row[10:12])
    return (*row[:10], data, context, *row[12:])


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # PostgreSQL text, in the session's time zone
        value = datetime.fromisoformat(value)
        if not settings.USE_TZ:  # Django reads it as the naive wall-clock time
            value = value.replace(tzinfo=None)
    return from_db(value).replace(tzinfo=UTC)
