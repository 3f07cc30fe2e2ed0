"""Errors raised by eventhex itself (event_sourcery's own errors pass through unchanged)."""

from typing import Any
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.exceptions import EventStoreException, NoProviderConfigured

__all__ = ["BackendNotConfigured", "UndecodableEvent"]


class BackendNotConfigured(NoProviderConfigured):
    """A backend was used before the part it needs was configured.

    The message names the missing part and the call that supplies it. Subclasses
    event_sourcery's ``NoProviderConfigured`` so existing ``except`` clauses keep working.
    """


class UndecodableEvent(EventStoreException, ValueError):
    """A stored event that cannot be read back, e.g. JSON nested deeper than Python decodes.

    eventhex never writes such an event (payloads nest at most 100 levels), so it came from
    outside its checks: raw SQL, an import, an older version. Only the read that reaches it
    fails: a stream load raises for that stream, a subscription raises at that event (after
    delivering the events before it), and the outbox dead-letters its entry.

    Attributes:
        reason: What is wrong with it.
        event_uuid: The event's uuid, when it could be read.
        stream_id: Its stream, when known.
        name: The stored event name, when known.
        position: Its position (subscriptions), when known.
        shown_position: The position as people read it (``"725:1234"`` on PostgreSQL).
    """

    def __init__(
        self,
        reason: str,
        *,
        event_uuid: UUID | None = None,
        stream_id: StreamId | None = None,
        name: str | None = None,
        position: int | None = None,
        shown_position: str | None = None,
    ) -> None:
        self.reason = reason
        self.event_uuid = event_uuid
        self.stream_id = stream_id
        self.name = name
        self.position = position
        self.shown_position = shown_position
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"Stored event {self.name!r}" if self.name is not None else "A stored event"]
        if self.event_uuid is not None:
            parts.append(str(self.event_uuid))
        if self.position is not None:
            parts.append(f"at position {self.shown_position or self.position}")
        if self.stream_id is not None:
            category = f"{self.stream_id.category}/" if self.stream_id.category else ""
            parts.append(f"in stream {category}{self.stream_id.name or ''} ({self.stream_id})")
        return (
            f"{' '.join(parts)} cannot be read: {self.reason}. It was written outside "
            "eventhex's checks (raw SQL, an import, an older version): repair or delete that "
            "row (eventhex stores no payload nested deeper than 100 levels)."
        )

    def at(
        self,
        *,
        position: int | None = None,
        shown_position: str | None = None,
        event_uuid: UUID | None = None,
        stream_id: StreamId | None = None,
        name: str | None = None,
    ) -> "UndecodableEvent":
        """The same error, with whatever it lacked filled in from the caller's knowledge."""
        return UndecodableEvent(
            self.reason,
            event_uuid=self.event_uuid or event_uuid,
            stream_id=self.stream_id or stream_id,
            name=self.name if self.name is not None else name,
            position=self.position if self.position is not None else position,
            shown_position=self.shown_position or shown_position,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        fields = dict(self.__dict__)
        stream = fields.pop("stream_id")  # a StreamId pickles as its bare uuid
        parts = None if stream is None else (stream.uuid, stream.name, stream.category)
        return _rebuild, (fields, parts)


def _rebuild(fields: dict[str, Any], stream: tuple[Any, Any, Any] | None) -> UndecodableEvent:
    stream_id = None
    if stream is not None:
        stream_id = StreamId(uuid=stream[0], name=stream[1], category=stream[2])
    return UndecodableEvent(fields.pop("reason"), stream_id=stream_id, **fields)


class StoredJsonUnreadable(ValueError):
    """Stored JSON text that cannot be decoded without recursing too deeply (see
    :func:`eventhex_core_ports.stored_json.loads_stored`)."""
