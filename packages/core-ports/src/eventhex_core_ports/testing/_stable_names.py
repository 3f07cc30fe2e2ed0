"""Storage contract, stable event names: a name only one process could read is refused.

Part of :class:`~eventhex_core_ports.testing.StorageContract`, which provides the ``backend``
fixture these tests use.
"""

from typing import Any

import pytest
from event_sourcery import Event
from event_sourcery.event import WrappedEvent

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.errors import UnstableEventName
from eventhex_core_ports.testing._helpers import new_stream
from eventhex_core_ports.testing.events import ContractItemAdded

__all__ = ["StableEventNamesContract"]


class EventhexContractScriptEvent(Event):
    """An event class as a script or notebook defines it: its module is ``__main__``."""

    __module__ = "__main__"

    note: str


class EventhexContractExecEvent(Event):
    """An event class as code run by ``exec`` defines it: its module is ``builtins``."""

    __module__ = "builtins"

    note: str


class StableEventNamesContract:
    """An event whose derived name starts with an unstable module is refused, nothing written."""

    @pytest.mark.parametrize(
        ("event_type", "module"),
        [(EventhexContractScriptEvent, "__main__"), (EventhexContractExecEvent, "builtins")],
    )
    def test_an_event_named_after_an_unstable_module_is_refused(
        self, backend: ContainerBackend[Any], event_type: type[Any], module: str
    ) -> None:
        stream = new_stream()
        store = backend.event_store
        first = WrappedEvent.wrap(ContractItemAdded(item="kept out"), version=1)
        unstable = WrappedEvent.wrap(event_type(note="from a shell"), version=2)
        with pytest.raises(UnstableEventName) as raised:
            store.append(first, unstable, stream_id=stream)
        assert raised.value.module == module
        assert raised.value.name == f"{module}.{event_type.__qualname__}"
        assert "__event_name__" in str(raised.value)
        assert store.load_stream(stream) == []

    def test_a_snapshot_named_after_an_unstable_module_is_refused(
        self, backend: ContainerBackend[Any]
    ) -> None:
        stream = new_stream()
        store = backend.event_store
        store.append(WrappedEvent.wrap(ContractItemAdded(item="a"), version=1), stream_id=stream)
        snapshot = WrappedEvent.wrap(EventhexContractScriptEvent(note="state"), version=1)
        with pytest.raises(UnstableEventName):
            store.save_snapshot(stream, snapshot)
        assert [e.event for e in store.load_stream(stream)] == [ContractItemAdded(item="a")]
