"""``ListenerAwareDispatcher`` deserializes only what some listener is registered for."""

from typing import Any, ClassVar

from dependency_injector import providers
from event_sourcery import Event, StreamId
from event_sourcery.event import RawEvent, WrappedEvent

from eventhex_core_ports import InMemoryBackend
from eventhex_core_ports._internal.serde import FastSerde


class Base(Event):
    __event_name__ = "tests.dispatch.Base"


class Child(Base):
    __event_name__ = "tests.dispatch.Child"


class Other(Event):
    __event_name__ = "tests.dispatch.Other"


class CountingSerde(FastSerde):
    deserialized: ClassVar[list[str]] = []

    def deserialize(self, event: RawEvent) -> WrappedEvent[Any]:
        self.deserialized.append(event.name)
        return super().deserialize(event)


def _backend() -> InMemoryBackend:
    backend = InMemoryBackend().configure()
    core = backend.core
    core.serde.override(
        providers.Factory(CountingSerde, registry=core.event_registry, encryption=core.encryption)
    )
    CountingSerde.deserialized.clear()
    return backend


def test_nothing_is_deserialized_on_append_without_listeners() -> None:
    backend = _backend()
    backend.event_store.append(Child(), Other(), stream_id=StreamId(category="c"))
    assert CountingSerde.deserialized == []


def test_base_type_and_category_listeners_still_receive_their_events() -> None:
    backend = _backend()
    by_type: list[str] = []
    by_category: list[str] = []
    backend.in_transaction.register(lambda e, *_: by_type.append(type(e.event).__name__), to=Base)
    backend.in_transaction.register(
        lambda e, *_: by_category.append(type(e.event).__name__), to="ledger"
    )

    backend.event_store.append(Child(), Other(), stream_id=StreamId(category="c"))
    backend.event_store.append(Other(), stream_id=StreamId(category="ledger"))

    assert by_type == ["Child"]
    assert by_category == ["Other"]
    assert CountingSerde.deserialized == ["tests.dispatch.Child", "tests.dispatch.Other"]
