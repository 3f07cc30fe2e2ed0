"""Upcasting contract: events stored by an older class are read as the current one everywhere.

The scenario of every test: version-1 ``ContractOrderCreated`` events are stored; then the
class "changes": its name is renamed to ``ContractOrderPlaced``, which is at version 3, with an
upcaster from 1 (``product`` becomes ``item``) and one from 2 (``quantity`` added). Every read
path must return ``ContractOrderPlaced`` with the upcast payload; appends store version 3 and
never run an upcaster.
"""

from collections.abc import Callable
from typing import Any

import pytest
from event_sourcery.event import Recorded, WrappedEvent

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.errors import UnreachableEventVersion
from eventhex_core_ports.testing._helpers import QUICK, drain, new_stream
from eventhex_core_ports.testing.events import (
    ContractItemAdded,
    ContractOrderCreated,
    ContractOrderPlaced,
)
from eventhex_core_ports.upcasting import Upcasters

__all__ = ["UpcastingContract"]

OLD = "eventhex.contract.upcasting.OrderCreated"
NEW = "eventhex.contract.upcasting.OrderPlaced"


class _CountingUpcasters:
    """The scenario's renames and upcasters, counting the steps they run."""

    def __init__(self) -> None:
        self.calls = 0
        self.registry = Upcasters()
        self.registry.rename(OLD, NEW)

        @self.registry.upcaster(NEW, from_version=1)
        def product_to_item(data: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            return {"item": data.pop("product"), **data}

        @self.registry.upcaster(NEW, from_version=2)
        def add_quantity(data: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            return {**data, "quantity": 1}


def _events(records: list[Recorded]) -> list[object]:
    return [record.wrapped_event.event for record in records]


class UpcastingContract:
    """Tests every adapter must pass on renames, upcasters and stored event versions.

    Fixtures:
        backend_factory: A callable ``(outbox_attempts) -> backend`` returning a configured
            backend *without* an outbox, as :class:`~eventhex_core_ports.testing.OutboxContract`
            takes it.
    """

    @pytest.fixture
    def backend_factory(self) -> Any:
        raise NotImplementedError("provide `backend_factory(outbox_attempts) -> backend`")

    @pytest.fixture
    def upcasters(self) -> _CountingUpcasters:
        return _CountingUpcasters()

    @pytest.fixture
    def backend(self, backend_factory: Callable[[int], Any]) -> ContainerBackend[Any]:
        backend: ContainerBackend[Any] = backend_factory(3)
        return backend.with_outbox()

    def _change_the_class(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        backend[Upcasters] = upcasters.registry

    def test_stream_loads_read_version_1_events_as_the_renamed_version_3_class(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        stream = new_stream(category="orders")
        backend.event_store.append(
            ContractOrderCreated(product="tea"),
            ContractOrderCreated(product="jam"),
            stream_id=stream,
        )
        self._change_the_class(backend, upcasters)
        loaded = backend.event_store.load_stream(stream)
        assert [wrapped.event for wrapped in loaded] == [
            ContractOrderPlaced(item="tea", quantity=1),
            ContractOrderPlaced(item="jam", quantity=1),
        ]
        assert [wrapped.version for wrapped in loaded] == [1, 2]
        assert upcasters.calls == 4

    def test_appends_store_the_current_version_and_never_upcast(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        stream = new_stream(category="orders")
        backend.event_store.append(ContractOrderCreated(product="tea"), stream_id=stream)
        self._change_the_class(backend, upcasters)
        backend.event_store.append(
            ContractOrderPlaced(item="jam", quantity=5), stream_id=stream, expected_version=1
        )
        assert upcasters.calls == 0
        loaded = [wrapped.event for wrapped in backend.event_store.load_stream(stream)]
        assert loaded == [
            ContractOrderPlaced(item="tea", quantity=1),
            ContractOrderPlaced(item="jam", quantity=5),
        ]
        assert upcasters.calls == 2  # the version-1 event only

    def test_the_stored_version_is_not_part_of_the_read_context(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        stream = new_stream(category="orders")
        self._change_the_class(backend, upcasters)
        backend.event_store.append(ContractOrderPlaced(item="jam", quantity=5), stream_id=stream)
        (loaded,) = backend.event_store.load_stream(stream)
        assert (
            loaded.context.model_dump() == WrappedEvent.wrap(loaded.event, 1).context.model_dump()
        )
        assert loaded.context._legacy_fields == {}

    def test_snapshots_are_upcast(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        stream = new_stream(category="orders")
        store = backend.event_store
        store.append(ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=stream)
        store.save_snapshot(stream, WrappedEvent.wrap(ContractOrderCreated(product="s"), version=2))
        self._change_the_class(backend, upcasters)
        loaded = store.load_stream(stream)
        assert [wrapped.event for wrapped in backend.event_store.load_stream(stream)] == [
            ContractOrderPlaced(item="s", quantity=1)
        ]
        assert len(loaded) == 1

    def test_subscriptions_deliver_upcast_events(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        start = backend.event_store.position or 0
        stream = new_stream(category="upcast-orders")
        backend.event_store.append(
            ContractOrderCreated(product="tea"), ContractItemAdded(item="x"), stream_id=stream
        )
        self._change_the_class(backend, upcasters)
        backend.event_store.append(
            ContractOrderPlaced(item="jam", quantity=2), stream_id=stream, expected_version=2
        )
        by_category = drain(
            backend.subscriber.start_from(start)
            .to_category("upcast-orders")
            .build_batch(10, QUICK),
            3,
        )
        assert _events(by_category) == [
            ContractOrderPlaced(item="tea", quantity=1),
            ContractItemAdded(item="x"),
            ContractOrderPlaced(item="jam", quantity=2),
        ]
        by_type = drain(
            backend.subscriber.start_from(start)
            .to_events([ContractOrderPlaced])
            .build_batch(10, QUICK),
            2,
        )
        assert _events(by_type) == [
            ContractOrderPlaced(item="tea", quantity=1),
            ContractOrderPlaced(item="jam", quantity=2),
        ]

    def test_outbox_run_publishes_upcast_events(
        self, backend: ContainerBackend[Any], upcasters: _CountingUpcasters
    ) -> None:
        stream = new_stream(category="orders", named=True)
        backend.event_store.append(ContractOrderCreated(product="tea"), stream_id=stream)
        self._change_the_class(backend, upcasters)
        published: list[Recorded] = []
        backend.outbox.run(published.append)
        mine = [record for record in published if record.stream_id == stream]
        assert _events(mine) == [ContractOrderPlaced(item="tea", quantity=1)]

    def test_a_missing_upcaster_names_the_step_to_register(
        self, backend: ContainerBackend[Any]
    ) -> None:
        stream = new_stream(category="orders")
        backend.event_store.append(ContractOrderCreated(product="tea"), stream_id=stream)
        registry = Upcasters()
        registry.rename(OLD, NEW)
        registry.add_upcaster(NEW, 2, lambda data: {**data, "quantity": 1})
        backend[Upcasters] = registry
        with pytest.raises(UnreachableEventVersion, match="from_version=1"):
            backend.event_store.load_stream(stream)
