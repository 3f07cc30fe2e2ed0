"""Outbox contract: filtered entries, attempts and retries through event_sourcery's ``Outbox``."""

import dataclasses
from typing import Any

import pytest
from event_sourcery.event import RawEvent, Recorded, WrappedEvent

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.testing._helpers import new_stream
from eventhex_core_ports.testing.events import ContractItemAdded, ContractNoteTaken
from eventhex_core_ports.validation import DuplicateEventUuid

__all__ = ["OutboxContract"]


class _FlakyPublisher:
    def __init__(self, failures: int) -> None:
        self.failures_left = failures
        self.published: list[Recorded] = []
        self.calls = 0

    def __call__(self, record: Recorded) -> None:
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("broker unavailable")
        self.published.append(record)


class OutboxContract:
    """Subclass and provide ``backend_factory``: a callable ``(outbox_attempts) -> backend``
    returning a configured backend *without* an outbox (the tests call ``with_outbox``)."""

    @pytest.fixture
    def backend_factory(self) -> Any:
        raise NotImplementedError("provide `backend_factory(outbox_attempts) -> backend`")

    def test_appended_events_are_published_once(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        stream = new_stream(category="orders", named=True)
        backend.event_store.append(
            ContractItemAdded(item="a"), ContractItemAdded(item="b"), stream_id=stream
        )
        publisher = _FlakyPublisher(failures=0)

        backend.outbox.run(publisher)
        backend.outbox.run(publisher)

        assert [r.wrapped_event.event for r in publisher.published] == [
            ContractItemAdded(item="a"),
            ContractItemAdded(item="b"),
        ]
        first = publisher.published[0]
        assert first.stream_id == stream
        assert first.stream_id.category == "orders"
        assert first.position < publisher.published[1].position

    def test_filterer_decides_what_enters(self, backend_factory: Any) -> None:
        def only_notes(entry: RawEvent) -> bool:
            return entry.name == "eventhex.contract.NoteTaken"

        backend: ContainerBackend[Any] = backend_factory(3).with_outbox(only_notes)
        backend.event_store.append(
            ContractItemAdded(item="a"), ContractNoteTaken(text="n"), stream_id=new_stream()
        )
        publisher = _FlakyPublisher(failures=0)
        backend.outbox.run(publisher)

        assert [type(r.wrapped_event.event) for r in publisher.published] == [ContractNoteTaken]

    def test_failed_entry_is_retried_until_published(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=new_stream())
        publisher = _FlakyPublisher(failures=2)

        for _ in range(4):
            backend.outbox.run(publisher)

        assert len(publisher.published) == 1
        assert publisher.calls == 3

    def test_entry_is_given_up_after_its_attempts(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(2).with_outbox()
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=new_stream())
        publisher = _FlakyPublisher(failures=10)

        for _ in range(5):
            backend.outbox.run(publisher)

        assert publisher.calls == 2
        assert publisher.published == []

    def test_without_outbox_nothing_is_published(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(3)
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=new_stream())
        publisher = _FlakyPublisher(failures=0)
        backend.outbox.run(publisher)
        assert publisher.calls == 0

    def test_entries_carry_their_tenant(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        backend.in_tenant_mode("tenant-a").event_store.append(
            ContractItemAdded(item="a"), stream_id=new_stream()
        )
        publisher = _FlakyPublisher(failures=0)
        backend.outbox.run(publisher)
        assert [r.tenant_id for r in publisher.published] == ["tenant-a"]

    def test_rejected_duplicate_append_leaves_no_entries(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        stored = WrappedEvent.wrap(ContractItemAdded(item="stored"), version=1)
        backend.event_store.append(stored, stream_id=new_stream())
        fresh = WrappedEvent.wrap(ContractItemAdded(item="fresh"), version=1)

        with pytest.raises(DuplicateEventUuid):
            backend.event_store.append(
                fresh, dataclasses.replace(stored, version=2), stream_id=new_stream()
            )
        publisher = _FlakyPublisher(failures=0)
        backend.outbox.run(publisher)

        assert [r.wrapped_event.event for r in publisher.published] == [stored.event]
