"""Outbox contract: filtered entries, attempts, retries and per-stream order through
event_sourcery's ``Outbox``, and how ``Outbox.run`` and a relay share one outbox."""

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from event_sourcery.event import RawEvent, Recorded, WrappedEvent

from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.errors import (
    DuplicateEventUuid,
)
from eventhex_core_ports.ports.relay import OutboxSource
from eventhex_core_ports.testing._helpers import items, new_stream
from eventhex_core_ports.testing.events import (
    ContractItemAdded,
    ContractNoteTaken,
    ContractOrderCreated,
    ContractOrderPlaced,
)

LEASE = timedelta(minutes=5)

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
    """Tests every outbox must pass. Subclass it and provide two fixtures.

    Fixtures:
        backend_factory: A callable ``(outbox_attempts) -> backend`` returning a configured
            backend *without* an outbox (the tests call ``with_outbox``).
        relay_source_for: A callable ``(backend) -> OutboxSource`` returning the relay's source
            over the outbox that ``backend`` writes.

    Per-stream order: ``Outbox.run`` takes a claim as a relay does (of each stream a run of
    consecutive entries; an entry that a relay holds under a lease or that waits for a relay's
    retry holds back its whole stream, and only its stream) and hands a stream's entries
    out in order. Once one fails, the entries after it in its stream are not handed out in that
    run and are not charged an attempt; they follow it later.
    """

    @pytest.fixture
    def backend_factory(self) -> Any:
        raise NotImplementedError("provide `backend_factory(outbox_attempts) -> backend`")

    @pytest.fixture
    def relay_source_for(self) -> Callable[[Any], OutboxSource]:
        raise NotImplementedError("provide `relay_source_for(backend) -> OutboxSource`")

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

    def test_a_failed_entry_holds_back_the_rest_of_its_stream_only(
        self, backend_factory: Any
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        held, free = new_stream("held"), new_stream("free")
        backend.event_store.append(
            ContractItemAdded(item="a1"), ContractItemAdded(item="a2"), stream_id=held
        )
        backend.event_store.append(ContractItemAdded(item="b1"), stream_id=free)
        handed_out: list[Recorded] = []

        def fail_a1(record: Recorded) -> None:
            handed_out.append(record)
            if items([record]) == ["a1"]:
                raise ConnectionError("broker down")

        backend.outbox.run(fail_a1)
        assert items(handed_out) == ["a1", "b1"]  # a2 waits behind a1

        published: list[Recorded] = []
        backend.outbox.run(published.append)
        backend.outbox.run(published.append)
        assert items(published) == ["a1", "a2"]

    def test_one_run_publishes_a_busy_streams_entries_in_order(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        busy, quiet = new_stream("busy"), new_stream("quiet")
        for n in range(5):
            event = WrappedEvent.wrap(ContractItemAdded(item=f"a{n}"), version=n + 1)
            backend.event_store.append(event, stream_id=busy)
            if n == 2:
                backend.event_store.append(ContractItemAdded(item="b"), stream_id=quiet)
        published: list[Recorded] = []

        backend.outbox.run(published.append)

        assert items(published) == ["a0", "a1", "a2", "b", "a3", "a4"]

    def test_entries_after_a_failed_one_wait_for_it_uncharged(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        stream = new_stream()
        backend.event_store.append(
            *(ContractItemAdded(item=f"a{n}") for n in range(4)), stream_id=stream
        )
        handed_out: list[Recorded] = []

        def fail_a1(record: Recorded) -> None:
            handed_out.append(record)
            if items([record]) == ["a1"]:
                raise ConnectionError("broker down")

        backend.outbox.run(fail_a1)
        assert items(handed_out) == ["a0", "a1"]

        claimed = relay_source_for(backend).claim("relay-1", 10, LEASE)
        assert [(m.data["item"], m.attempts) for m in claimed] == [("a1", 1), ("a2", 0), ("a3", 0)]

    def test_relay_messages_carry_the_payload_as_stored_with_its_schema_version(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        stream = new_stream()
        backend.event_store.append(
            ContractOrderCreated(product="tea"),
            ContractOrderPlaced(item="jam", quantity=2),
            stream_id=stream,
        )

        claimed = relay_source_for(backend).claim("relay-1", 10, LEASE)

        mine = [m for m in claimed if m.stream_uuid == stream]
        assert [(m.event_name, m.event_version, dict(m.data)) for m in mine] == [
            (ContractOrderCreated.__event_name__, 1, {"product": "tea"}),
            (ContractOrderPlaced.__event_name__, 3, {"item": "jam", "quantity": 2}),
        ]

    def test_an_entry_given_up_stops_holding_back_its_stream(self, backend_factory: Any) -> None:
        backend: ContainerBackend[Any] = backend_factory(1).with_outbox()
        stream = new_stream()
        backend.event_store.append(
            ContractItemAdded(item="poison"), ContractItemAdded(item="next"), stream_id=stream
        )
        backend.outbox.run(_FlakyPublisher(failures=1))
        publisher = _FlakyPublisher(failures=0)

        backend.outbox.run(publisher)
        backend.outbox.run(publisher)

        assert items(publisher.published) == ["next"]

    def test_a_consumer_that_stops_early_leaves_the_batch_in_the_outbox(
        self, backend_factory: Any
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        backend.event_store.append(
            ContractItemAdded(item="x"), ContractItemAdded(item="y"), stream_id=new_stream()
        )
        entries = backend.core.outbox_storage().outbox_entries(limit=10)
        with next(entries) as record:  # published without error
            assert record.entry.version == 1
        entries.close()  # stops before the batch ends

        published: list[Recorded] = []
        backend.outbox.run(published.append)
        assert items(published) == ["x", "y"]

    def test_the_relay_claims_what_appends_put_into_the_outbox(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(4).with_outbox()
        stream = new_stream("orders", named=True)
        backend.in_tenant_mode("tenant-a").event_store.append(
            ContractItemAdded(item="a", quantity=2), stream_id=stream
        )
        source = relay_source_for(backend)

        [message] = source.claim("relay-1", 10, LEASE)

        assert message.event_name == "eventhex.contract.ItemAdded"
        assert message.data == {"item": "a", "quantity": 2}
        assert (message.stream_uuid, message.stream_name) == (UUID(int=stream.int), stream.name)
        assert (message.stream_category, message.tenant_id) == ("orders", "tenant-a")
        assert (message.version, message.attempts, message.max_attempts) == (1, 0, 4)
        assert message.created_at.utcoffset() == timedelta(0)
        assert source.acknowledge([message.entry_id]) == 1
        publisher = _FlakyPublisher(failures=0)
        backend.outbox.run(publisher)
        assert publisher.calls == 0

    def test_entries_a_relay_holds_are_skipped_with_their_stream(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        claimed, other = new_stream("claimed"), new_stream("other")
        backend.event_store.append(
            ContractItemAdded(item="c1"), ContractItemAdded(item="c2"), stream_id=claimed
        )
        backend.event_store.append(ContractItemAdded(item="o1"), stream_id=other)
        source = relay_source_for(backend)
        [held] = source.claim("relay-1", 1, LEASE)
        published: list[Recorded] = []

        backend.outbox.run(published.append)
        assert items(published) == ["o1"]

        assert source.release("relay-1") == 1
        backend.outbox.run(published.append)
        assert items(published) == ["o1", "c1", "c2"]
        assert source.stats().pending == 0
        assert held.event_uuid == published[1].wrapped_event.uuid

    def test_an_entry_waiting_for_a_relay_retry_holds_back_its_stream(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        backend.event_store.append(
            ContractItemAdded(item="r1"), ContractItemAdded(item="r2"), stream_id=new_stream()
        )
        source = relay_source_for(backend)
        [message] = source.claim("relay-1", 1, LEASE)
        later = datetime.now(UTC) + LEASE
        assert source.retry_later("relay-1", message.entry_id, "broker said no", later)
        publisher = _FlakyPublisher(failures=0)

        backend.outbox.run(publisher)

        assert publisher.calls == 0
        assert source.claim("relay-2", 10, LEASE) == []

    def test_entries_outbox_run_gives_up_are_the_relays_dead_letters(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(2).with_outbox()
        backend.event_store.append(ContractItemAdded(item="d"), stream_id=new_stream())
        failing = _FlakyPublisher(failures=10)
        backend.outbox.run(failing)
        backend.outbox.run(failing)
        source = relay_source_for(backend)

        [dead] = source.dead_letters()
        assert (dead.attempts, dead.last_error) == (2, "ConnectionError: broker unavailable")
        assert source.claim("relay-1", 10, LEASE) == []
        assert source.replay_dead_letters() == 1
        publisher = _FlakyPublisher(failures=0)
        backend.outbox.run(publisher)
        assert items(publisher.published) == ["d"]

    def test_an_entry_the_relay_dead_letters_is_not_published_by_outbox_run(
        self, backend_factory: Any, relay_source_for: Callable[[Any], OutboxSource]
    ) -> None:
        backend: ContainerBackend[Any] = backend_factory(3).with_outbox()
        stream = new_stream()
        backend.event_store.append(
            ContractItemAdded(item="poison"), ContractItemAdded(item="after"), stream_id=stream
        )
        source = relay_source_for(backend)
        [poison] = source.claim("relay-1", 1, LEASE)
        assert source.dead_letter("relay-1", poison.entry_id, "poison")
        publisher = _FlakyPublisher(failures=0)

        backend.outbox.run(publisher)

        assert items(publisher.published) == ["after"]
        assert [m.entry_id for m in source.dead_letters()] == [poison.entry_id]
