"""The relay settles a batch stream by stream, in order: what a stream's first failure leaves
behind it is released uncharged and follows it later (in-memory source)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID, uuid4

from eventhex_core_ports.in_memory._store import InMemoryStore
from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay import Relay


class ScriptedPublisher(Publisher):
    """Reports what it is told to for chosen events and delivers the rest.

    Attributes:
        batches: The event uuids of each batch it was given, in the order given.
        failing: Event uuids reported failed (once each); the others are reported delivered,
            even behind a failure of their stream, as a publisher that ignored order would.
        outage: When set, the batch raises ``PublisherUnavailable`` naming these uuids delivered.
    """

    def __init__(self) -> None:
        self.batches: list[list[UUID]] = []
        self.failing: set[UUID] = set()
        self.outage: set[UUID] | None = None

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        self.batches.append([m.event_uuid for m in messages])
        if self.outage is not None:
            delivered = [m.entry_id for m in messages if m.event_uuid in self.outage]
            self.outage = None
            raise PublisherUnavailable("broker gone", delivered)
        outcomes = []
        for message in messages:
            if message.event_uuid in self.failing:
                self.failing.discard(message.event_uuid)
                outcomes.append(PublishOutcome(message.entry_id, False, "refused"))
            else:
                outcomes.append(PublishOutcome(message.entry_id, True))
        return outcomes


def _stream(source: InMemoryOutboxSource, size: int, max_attempts: int = 3) -> list[OutboxMessage]:
    stream = uuid4()
    return [
        source.enqueue(stream_uuid=stream, version=n, max_attempts=max_attempts)
        for n in range(1, size + 1)
    ]


def _due_now(store: InMemoryStore, message: OutboxMessage) -> None:
    store.outbox.rows[message.entry_id].next_attempt_at = None


def _uuids(messages: Sequence[OutboxMessage]) -> list[UUID]:
    return [m.event_uuid for m in messages]


def test_one_batch_publishes_runs_of_every_stream_in_entry_order(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    busy, quiet = _stream(memory_source, 4), _stream(memory_source, 1)
    publisher = ScriptedPublisher()

    assert quick_relay(memory_source, publisher).step() == 5

    assert publisher.batches == [_uuids(busy) + _uuids(quiet)]
    assert memory_source.stats().pending == 0


def test_a_failure_is_charged_alone_and_what_follows_it_waits_uncharged(
    quick_relay: Callable[..., Relay],
) -> None:
    store = InMemoryStore()
    source = InMemoryOutboxSource(store)
    a = _stream(source, 4)
    b = _stream(source, 2)
    publisher = ScriptedPublisher()
    publisher.failing.add(a[1].event_uuid)
    relay = quick_relay(source, publisher)

    relay.step()

    assert source.peek(a[0].entry_id) is None  # acknowledged
    assert [source.peek(m.entry_id).attempts for m in a[1:]] == [1, 0, 0]  # type: ignore[union-attr]
    assert all(source.peek(m.entry_id) is None for m in b)
    assert (relay.report.published, relay.report.retried) == (3, 1)
    assert source.claim("other-relay", 10, relay.lease) == []  # a[2:] wait behind a[1]
    _due_now(store, a[1])
    relay.step()
    assert publisher.batches[-1] == _uuids(a[1:])
    assert source.stats().pending == 0


def test_a_message_delivered_behind_a_failed_one_is_not_acknowledged(
    quick_relay: Callable[..., Relay],
) -> None:
    store = InMemoryStore()
    source = InMemoryOutboxSource(store)
    a = _stream(source, 3)
    publisher = ScriptedPublisher()
    publisher.failing.add(a[0].event_uuid)  # a[1] and a[2] are reported delivered all the same
    relay = quick_relay(source, publisher)

    relay.step()

    assert [source.peek(m.entry_id).attempts for m in a] == [1, 0, 0]  # type: ignore[union-attr]
    assert relay.report.published == 0
    _due_now(store, a[0])
    relay.step()
    assert publisher.batches[-1] == _uuids(a)


def test_only_each_streams_first_failure_is_charged_whatever_follows_it(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    """A publisher that sends everything (as a pipelined one may) reports a later message of a
    stream failed or delivered behind its stream's failure: the relay charges neither."""
    a, b = _stream(memory_source, 3), _stream(memory_source, 2)
    publisher = ScriptedPublisher()
    publisher.failing |= {a[0].event_uuid, a[1].event_uuid, b[0].event_uuid}
    relay = quick_relay(memory_source, publisher)

    relay.step()

    attempts = [memory_source.peek(m.entry_id).attempts for m in (*a, *b)]  # type: ignore[union-attr]
    assert attempts == [1, 0, 0, 1, 0]
    assert (relay.report.published, relay.report.retried) == (0, 2)


def test_a_dead_letter_lets_the_rest_of_its_run_through(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    a = _stream(memory_source, 3, max_attempts=1)
    publisher = ScriptedPublisher()
    publisher.failing.add(a[0].event_uuid)
    relay = quick_relay(memory_source, publisher)

    relay.step()
    relay.step()

    assert [m.entry_id for m in memory_source.dead_letters()] == [a[0].entry_id]
    assert publisher.batches[-1] == _uuids(a[1:])
    assert memory_source.stats().pending == 0


def test_an_outage_acknowledges_only_what_each_stream_delivered_in_order(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    a, b = _stream(memory_source, 3), _stream(memory_source, 2)
    publisher = ScriptedPublisher()
    publisher.outage = {a[0].event_uuid, a[2].event_uuid, b[0].event_uuid, b[1].event_uuid}
    relay = quick_relay(memory_source, publisher)

    relay.step()

    assert relay.report.published == 3
    left = [m.entry_id for m in a[1:]]
    assert [memory_source.peek(i).attempts for i in left] == [0, 0]  # type: ignore[union-attr]
    assert _uuids(memory_source.claim("other-relay", 10, relay.lease)) == _uuids(a[1:])
