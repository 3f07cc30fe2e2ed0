"""event_sourcery's record types, built without running their constructors.

``RawEvent``, ``RecordedRaw``, ``WrappedEvent`` and ``Recorded`` are dataclasses (the first two
frozen, on top of pydantic's ``BaseModel``). Their generated ``__init__`` stores each field in
the instance's ``__dict__`` one ``object.__setattr__`` at a time, and ``WrappedEvent[T](...)``
goes through ``typing``'s generic alias, which then sets ``__orig_class__``. A read builds
several of these per event, so those calls are a large part of a catch-up or a stream load.

The functions here give each instance its finished ``__dict__`` in one step: the same fields,
in the same order, with the same values, so the results are equal to (and indistinguishable
from) what the constructors return; ``tests/core_ports/test_records.py`` proves it field by
field. They do no validation, exactly like the constructors they replace.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import Context, RawEvent, Recorded, RecordedRaw, WrappedEvent

__all__ = ["raw_event", "recorded", "recorded_raw", "wrapped_event"]

_new = object.__new__
_set = object.__setattr__


def raw_event(
    uuid: UUID,
    stream_id: StreamId,
    created_at: datetime,
    name: str,
    data: dict[str, Any],
    context: dict[str, Any],
    version: int | None,
) -> RawEvent:
    """``RawEvent(uuid=..., stream_id=..., ...)``."""
    event = _new(RawEvent)
    _set(
        event,
        "__dict__",
        {
            "uuid": uuid,
            "stream_id": stream_id,
            "created_at": created_at,
            "name": name,
            "data": data,
            "context": context,
            "version": version,
        },
    )
    return event


def recorded_raw(entry: RawEvent, position: int, tenant_id: str) -> RecordedRaw:
    """``RecordedRaw(entry=..., position=..., tenant_id=...)``."""
    record = _new(RecordedRaw)
    _set(record, "__dict__", {"entry": entry, "position": position, "tenant_id": tenant_id})
    return record


def wrapped_event(
    alias: Any,
    event: Any,
    version: int | None,
    uuid: UUID,
    created_at: datetime,
    context: Context,
) -> WrappedEvent[Any]:
    """``alias(event=..., version=..., uuid=..., created_at=..., context=...)`` where ``alias``
    is ``WrappedEvent[EventType]`` (the alias is kept as ``__orig_class__``, as ``typing`` keeps
    it)."""
    wrapped: WrappedEvent[Any] = _new(WrappedEvent)
    wrapped.__dict__ = {
        "event": event,
        "version": version,
        "uuid": uuid,
        "created_at": created_at,
        "context": context,
        "__orig_class__": alias,
    }
    return wrapped


def recorded(
    wrapped: WrappedEvent[Any], stream_id: StreamId, position: int, tenant_id: str
) -> Recorded:
    """``Recorded(wrapped_event=..., stream_id=..., position=..., tenant_id=...)``."""
    record = _new(Recorded)
    _set(
        record,
        "__dict__",
        {
            "wrapped_event": wrapped,
            "stream_id": stream_id,
            "position": position,
            "tenant_id": tenant_id,
        },
    )
    return record
