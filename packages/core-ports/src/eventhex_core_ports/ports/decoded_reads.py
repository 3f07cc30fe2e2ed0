"""Optional read ports: an adapter that builds event_sourcery's objects from its rows itself.

event_sourcery's ``EventStore.load_stream`` and subscription builder take ``RawEvent``s and
``RecordedRaw``s from the adapter and deserialize each one with the serde: for every event, a
decoded payload, a raw record and its copy, then the event. An adapter that implements these
ports hands the serde what it read instead (the payload still in JSON text), and returns the
finished ``WrappedEvent``s and ``Recorded``s: equal objects, built with less work.
``eventhex_core_ports._internal.reading`` uses them when the wired storage or subscription strategy
implements them, and event_sourcery's own path otherwise.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from event_sourcery import StreamId
from event_sourcery.event import Position, Recorded, WrappedEvent

__all__ = ["RecordedSubscriptions", "StoredEventDecoder", "WrappedEventLoader"]


class StoredEventDecoder(Protocol):
    """Builds the ``WrappedEvent`` of a stored event
    (``eventhex_core_ports._internal.serde.FastSerde``)."""

    def wrap_stored(
        self,
        name: str,
        data: str | bytes | Mapping[str, Any],
        context: Mapping[str, Any] | int | None,
        uuid: UUID,
        created_at: datetime,
        version: int | None,
        stream_id: StreamId,
    ) -> WrappedEvent[Any]:
        """See ``FastSerde.wrap_stored``."""
        ...


class WrappedEventLoader(ABC):
    """A storage strategy that loads a stream as finished ``WrappedEvent``s."""

    @abstractmethod
    def load_wrapped(
        self,
        stream_id: StreamId,
        start: int | None,
        stop: int | None,
        decoder: StoredEventDecoder,
    ) -> list[WrappedEvent[Any]]:
        """What ``EventStore.load_stream(stream_id, start, stop)`` returns: the events of
        ``fetch_events(stream_id, start, stop)``, each built by ``decoder``."""


class RecordedSubscriptions(ABC):
    """A subscription strategy whose batches can be finished ``Recorded``s."""

    @abstractmethod
    def subscribe_recorded(
        self,
        decoder: StoredEventDecoder,
        start_from: Position,
        batch_size: int,
        timelimit: timedelta,
        category: str | None = None,
        event_names: list[str] | None = None,
    ) -> Iterator[list[Recorded]]:
        """The batches of ``subscribe_to_all`` (or ``subscribe_to_category`` when ``category``
        is given, ``subscribe_to_events`` when ``event_names`` are), each event built by
        ``decoder`` with its stream, position and tenant."""
