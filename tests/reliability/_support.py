"""Events and helpers shared by the reliability tests."""

from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from event_sourcery import Event, StreamId
from event_sourcery.event import RawEvent

from eventhex_core_ports import ContainerBackend

__all__ = ["Measured", "Noted", "Payload", "footprint", "raw_event"]


class Noted(Event):
    """A short note."""

    __event_name__ = "eventhex.reliability.Noted"

    text: str = ""


class Payload(Event):
    """An event with a free-form payload."""

    __event_name__ = "eventhex.reliability.Payload"

    value: Any = None


class Measured(Event):
    """A measurement (a float field keeps NaN through pydantic's JSON mode)."""

    __event_name__ = "eventhex.reliability.Measured"

    value: float


def raw_event(
    stream_id: StreamId,
    data: dict[str, Any],
    *,
    name: str = "eventhex.reliability.Payload",
    context: dict[str, Any] | None = None,
    version: int | None = None,
) -> RawEvent:
    """A raw event as a serde would hand it to a storage strategy."""
    return RawEvent(
        uuid=uuid4(),
        stream_id=stream_id,
        created_at=datetime.now(UTC).replace(tzinfo=None),
        name=name,
        data=data,
        context={} if context is None else context,
        version=version,
    )


def footprint(backend: ContainerBackend[Any]) -> Counter[str]:
    """How many streams, events, snapshots and outbox entries the backend's store holds."""
    from eventhex_core_ports.in_memory import InMemoryBackend

    if isinstance(backend, InMemoryBackend):
        from eventhex_core_ports.in_memory._store import InMemoryStore

        store = backend[InMemoryStore]
        return Counter(
            streams=len(store.streams),
            events=len(store.log),
            snapshots=sum(len(s.snapshots) for s in store.streams.values()),
            outbox=len(store.outbox),
        )
    from eventhex_django_adapter.config import DjangoConfig
    from eventhex_django_adapter.models import Event as EventRow
    from eventhex_django_adapter.models import OutboxEntry, Snapshot, Stream

    alias = backend[DjangoConfig].database
    return Counter(
        streams=Stream.objects.using(alias).count(),
        events=EventRow.objects.using(alias).count(),
        snapshots=Snapshot.objects.using(alias).count(),
        outbox=OutboxEntry.objects.using(alias).count(),
    )
