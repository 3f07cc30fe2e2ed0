"""Subscription contract: all / category / event types, positions, batches, time limits."""

from typing import Any

import pytest
from event_sourcery import Event

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.testing._helpers import QUICK, drain, items, new_stream
from eventhex_core_ports.testing.events import (
    ContractItemAdded,
    ContractItemRemoved,
    ContractNoteTaken,
)

__all__ = ["SubscriptionContract"]


class SubscriptionContract:
    """Subclass and provide a ``backend`` fixture returning a configured backend.

    Every test starts from ``event_store.position``, so events left by other tests in a shared
    database do not matter.
    """

    @pytest.fixture
    def backend(self) -> ContainerBackend[Any]:
        raise NotImplementedError("provide a `backend` fixture returning a configured backend")

    def test_all_events_arrive_in_append_order(self, backend: ContainerBackend[Any]) -> None:
        start = backend.event_store.position or 0
        first, second = new_stream(), new_stream(category="c")
        backend.event_store.append(ContractItemAdded(item="1"), stream_id=first)
        backend.event_store.append(ContractItemAdded(item="2"), stream_id=second)
        backend.event_store.append(ContractItemAdded(item="3"), stream_id=first, expected_version=1)

        batches = backend.subscriber.start_from(start).build_batch(10, QUICK)
        received = drain(batches, 3)

        assert items(received) == ["1", "2", "3"]
        assert [r.stream_id for r in received] == [first, second, first]
        positions = [r.position for r in received]
        assert positions == sorted(positions)
        assert len(set(positions)) == 3

    def test_start_from_skips_what_came_before(self, backend: ContainerBackend[Any]) -> None:
        backend.event_store.append(ContractItemAdded(item="old"), stream_id=new_stream())
        start = backend.event_store.position
        backend.event_store.append(ContractItemAdded(item="new"), stream_id=new_stream())

        received = drain(backend.subscriber.start_from(start or 0).build_batch(10, QUICK), 1)

        assert items(received) == ["new"]

    def test_resuming_from_a_received_position_continues_after_it(
        self, backend: ContainerBackend[Any]
    ) -> None:
        start = backend.event_store.position or 0
        backend.event_store.append(
            *(ContractItemAdded(item=str(n)) for n in range(4)), stream_id=new_stream()
        )
        first_two = next(backend.subscriber.start_from(start).build_batch(2, QUICK))
        rest = drain(
            backend.subscriber.start_from(first_two[-1].position).build_batch(10, QUICK), 2
        )
        assert items(first_two + rest) == ["0", "1", "2", "3"]

    def test_category_subscription_sees_only_its_category(
        self, backend: ContainerBackend[Any]
    ) -> None:
        start = backend.event_store.position or 0
        backend.event_store.append(ContractItemAdded(item="x"), stream_id=new_stream("other"))
        backend.event_store.append(ContractItemAdded(item="o1"), stream_id=new_stream("orders"))
        backend.event_store.append(ContractItemAdded(item="o2"), stream_id=new_stream("orders"))

        batches = backend.subscriber.start_from(start).to_category("orders").build_batch(10, QUICK)
        received = drain(batches, 2)

        assert items(received) == ["o1", "o2"]
        assert {r.stream_id.category for r in received} == {"orders"}

    def test_event_type_subscription_sees_only_those_types(
        self, backend: ContainerBackend[Any]
    ) -> None:
        start = backend.event_store.position or 0
        backend.event_store.append(
            ContractItemAdded(item="a"),
            ContractNoteTaken(text="n"),
            ContractItemRemoved(item="a"),
            stream_id=new_stream(),
        )
        wanted: list[type[Event]] = [ContractNoteTaken, ContractItemRemoved]
        batches = backend.subscriber.start_from(start).to_events(wanted).build_batch(10, QUICK)
        received = drain(batches, 2)

        assert [type(r.wrapped_event.event).__name__ for r in received] == [
            "ContractNoteTaken",
            "ContractItemRemoved",
        ]

    def test_full_batches_then_a_partial_one(self, backend: ContainerBackend[Any]) -> None:
        start = backend.event_store.position or 0
        backend.event_store.append(
            *(ContractItemAdded(item=str(n)) for n in range(5)), stream_id=new_stream()
        )
        batches = backend.subscriber.start_from(start).build_batch(2, QUICK)

        assert [len(next(batches)) for _ in range(4)] == [2, 2, 1, 0]

    def test_build_iter_yields_events_then_none_when_idle(
        self, backend: ContainerBackend[Any]
    ) -> None:
        start = backend.event_store.position or 0
        backend.event_store.append(
            ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=new_stream()
        )
        events = backend.subscriber.start_from(start).build_iter(QUICK)

        received = [next(events), next(events), next(events)]

        assert [getattr(r.wrapped_event.event, "item", None) if r else None for r in received] == [
            "a",
            "b",
            None,
        ]

    def test_events_appended_while_subscribed_arrive(self, backend: ContainerBackend[Any]) -> None:
        events = backend.subscriber.start_from(backend.event_store.position or 0).build_iter(QUICK)
        assert next(events) is None

        backend.event_store.append(ContractItemAdded(item="late"), stream_id=new_stream())

        record = next(events)
        assert record is not None
        assert record.wrapped_event.event == ContractItemAdded(item="late")

    def test_records_report_their_tenant(self, backend: ContainerBackend[Any]) -> None:
        start = backend.event_store.position or 0
        backend.in_tenant_mode("tenant-a").event_store.append(
            ContractItemAdded(item="a"), stream_id=new_stream()
        )
        backend.event_store.append(ContractItemAdded(item="d"), stream_id=new_stream())

        received = drain(backend.subscriber.start_from(start).build_batch(10, QUICK), 2)

        assert [r.tenant_id for r in received] == ["tenant-a", ""]

    def test_time_limit_below_100ms_is_refused(self, backend: ContainerBackend[Any]) -> None:
        with pytest.raises(ValueError, match="100 milliseconds"):
            backend.subscriber.start_from(0).build_iter(0.01)
