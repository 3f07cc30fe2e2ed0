"""The behavioural contract of :class:`~eventhex_core_ports.ports.relay.OutboxSource`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

import pytest

from eventhex_core_ports.ports.relay import OutboxMessage, OutboxSource

__all__ = ["EnqueueEntry", "OutboxSourceContract"]

LONG = timedelta(minutes=5)
SHORT = timedelta(milliseconds=300)


class EnqueueEntry(Protocol):
    """Adds one entry to the source under test, as an append with an outbox would."""

    def __call__(
        self,
        stream_uuid: UUID,
        *,
        tenant_id: str = "",
        stream_category: str = "",
        max_attempts: int = 3,
        context: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Returns the new entry's id."""


def _wait_past(moment: timedelta) -> None:
    time.sleep(moment.total_seconds() + 0.05)


class OutboxSourceContract:
    """Tests every OutboxSource must pass. Subclass it and provide two fixtures.

    Fixtures:
        outbox_source: A fresh, empty :class:`OutboxSource` under test.
        enqueue: An :class:`EnqueueEntry` that writes one entry into that source's outbox with
            event name ``"Thing"``, version 1 and the given stream, tenant, category, attempts
            limit, context and data, and returns the entry id.

    The claim rules it states: a claim takes the oldest due entries of streams none of whose
    entries is under a lease or waiting for a retry, so of each stream a run of consecutive
    entries, in entry order; entries a relay releases behind a failed one of its stream come
    back after it, without an attempt charged.

    Lease and retry expiry is tested with real time: a few waits of about a third of a second.
    """

    @pytest.fixture
    def one(self, enqueue: EnqueueEntry) -> Callable[..., int]:
        return lambda **kw: enqueue(uuid4(), **kw)

    def test_claim_hands_out_the_whole_message(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        correlation, causation = uuid4(), uuid4()
        entry_id = enqueue(
            stream,
            tenant_id="acme",
            stream_category="order",
            max_attempts=4,
            context={"correlation_id": str(correlation), "causation_id": str(causation)},
            data={"amount": 5},
        )
        [message] = outbox_source.claim("relay-a", 10, LONG)
        assert message.entry_id == entry_id
        assert message.event_name == "Thing"
        assert message.version == 1
        assert (message.tenant_id, message.stream_category) == ("acme", "order")
        assert message.stream_uuid == stream
        assert message.partition_key == f"acme:order:{stream}"
        assert message.data == {"amount": 5}
        assert message.correlation_id == str(correlation)
        assert message.causation_id == str(causation)
        assert (message.attempts, message.max_attempts) == (0, 4)
        assert message.created_at.utcoffset() == timedelta(0)
        assert isinstance(message.position, int)

    def test_messages_state_the_schema_version_the_payload_was_stored_with(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        """The relay publishes payloads as stored; the version says how to read them."""
        one(context={"correlation_id": None, "causation_id": None})
        one(context={"correlation_id": None, "causation_id": None, "event_version": 3})
        first, second = outbox_source.claim("relay-a", 10, LONG)
        assert (first.event_version, second.event_version) == (1, 3)
        assert second.as_payload()["event_version"] == 3

    def test_claim_respects_limit_and_entry_order(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        ids = [one() for _ in range(5)]
        first = outbox_source.claim("relay-a", 3, LONG)
        rest = outbox_source.claim("relay-a", 3, LONG)
        assert [m.entry_id for m in first] == ids[:3]
        assert [m.entry_id for m in rest] == ids[3:]
        assert outbox_source.claim("relay-a", 3, LONG) == []

    def test_a_lease_keeps_other_owners_out_until_it_expires(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        short, long_ = one(), one()
        assert [m.entry_id for m in outbox_source.claim("relay-a", 1, SHORT)] == [short]
        assert [m.entry_id for m in outbox_source.claim("relay-a", 1, LONG)] == [long_]
        assert outbox_source.claim("relay-b", 10, LONG) == []
        _wait_past(SHORT)
        assert [m.entry_id for m in outbox_source.claim("relay-b", 10, LONG)] == [short]

    def test_two_owners_never_share_an_entry_while_leases_hold(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        ids = {one() for _ in range(20)}
        seen: list[int] = []
        for round_ in range(6):
            owner = "relay-a" if round_ % 2 else "relay-b"
            seen += [m.entry_id for m in outbox_source.claim(owner, 4, LONG)]
        assert sorted(seen) == sorted(ids)

    def test_a_claim_takes_a_run_of_each_stream_in_entry_order(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream, other = uuid4(), uuid4()
        ids = [enqueue(stream), enqueue(stream), enqueue(other), enqueue(stream)]
        assert [m.entry_id for m in outbox_source.claim("relay-a", 10, LONG)] == ids
        assert outbox_source.claim("relay-b", 10, LONG) == []

    def test_a_leased_entry_holds_back_the_rest_of_its_stream(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream, other = uuid4(), uuid4()
        first, second = enqueue(stream), enqueue(stream)
        elsewhere = enqueue(other)
        assert [m.entry_id for m in outbox_source.claim("relay-a", 1, LONG)] == [first]
        assert [m.entry_id for m in outbox_source.claim("relay-b", 10, LONG)] == [elsewhere]
        outbox_source.acknowledge([first])
        assert [m.entry_id for m in outbox_source.claim("relay-b", 10, LONG)] == [second]

    def test_the_limit_cuts_a_run_and_its_rest_waits_for_it(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        ids = [enqueue(stream) for _ in range(5)]
        assert [m.entry_id for m in outbox_source.claim("relay-a", 3, LONG)] == ids[:3]
        assert outbox_source.claim("relay-b", 10, LONG) == []
        outbox_source.acknowledge(ids[:2])
        assert outbox_source.claim("relay-b", 10, LONG) == []
        outbox_source.acknowledge(ids[2:3])
        assert [m.entry_id for m in outbox_source.claim("relay-b", 10, LONG)] == ids[3:]

    def test_entries_released_behind_a_failed_one_come_back_after_it_uncharged(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        ids = [enqueue(stream) for _ in range(4)]
        outbox_source.claim("relay-a", 10, LONG)
        outbox_source.acknowledge(ids[:1])
        retry_at = datetime.now(UTC) + SHORT
        assert outbox_source.retry_later("relay-a", ids[1], "broker said no", retry_at)
        assert outbox_source.release("relay-a", ids[2:]) == 2
        assert outbox_source.claim("relay-b", 10, LONG) == []
        _wait_past(SHORT)
        claimed = [(m.entry_id, m.attempts) for m in outbox_source.claim("relay-b", 10, LONG)]
        assert claimed == [(ids[1], 1), (ids[2], 0), (ids[3], 0)]

    def test_entries_released_behind_a_dead_letter_flow_on(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        ids = [enqueue(stream) for _ in range(3)]
        outbox_source.claim("relay-a", 10, LONG)
        assert outbox_source.dead_letter("relay-a", ids[0], "poison")
        assert outbox_source.release("relay-a", ids[1:]) == 2
        claimed = outbox_source.claim("relay-b", 10, LONG)
        assert [(m.entry_id, m.attempts) for m in claimed] == [(ids[1], 0), (ids[2], 0)]

    def test_a_run_whose_lease_expired_is_claimed_again_whole(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        ids = [enqueue(stream) for _ in range(3)]
        assert [m.entry_id for m in outbox_source.claim("relay-a", 10, SHORT)] == ids
        assert outbox_source.claim("relay-b", 10, LONG) == []
        _wait_past(SHORT)
        assert [m.entry_id for m in outbox_source.claim("relay-b", 10, LONG)] == ids
        assert not outbox_source.retry_later("relay-a", ids[1], "late", datetime.now(UTC))

    def test_the_same_stream_in_another_tenant_or_category_is_another_stream(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        ids = [
            enqueue(stream),
            enqueue(stream, tenant_id="t1"),
            enqueue(stream, stream_category="c1"),
        ]
        assert [m.entry_id for m in outbox_source.claim("relay-a", 10, LONG)] == ids

    def test_an_entry_waiting_for_a_retry_blocks_its_stream(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        first, second = enqueue(stream), enqueue(stream)
        outbox_source.claim("relay-a", 1, LONG)
        retry_at = datetime.now(UTC) + SHORT
        assert outbox_source.retry_later("relay-a", first, "broker said no", retry_at)
        assert outbox_source.claim("relay-a", 10, LONG) == []
        _wait_past(SHORT)
        [again, after] = outbox_source.claim("relay-a", 10, LONG)
        assert (again.entry_id, again.attempts, again.last_error) == (first, 1, "broker said no")
        assert (after.entry_id, after.attempts) == (second, 0)

    def test_only_the_holder_records_a_failure(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        entry_id = one()
        outbox_source.claim("relay-a", 10, LONG)
        later = datetime.now(UTC) + LONG
        assert not outbox_source.retry_later("relay-b", entry_id, "x", later)
        assert not outbox_source.dead_letter("relay-b", entry_id, "x")
        assert outbox_source.stats().in_flight == 1
        assert outbox_source.dead_letters() == []

    def test_a_dead_letter_stops_blocking_its_stream_and_keeps_its_error(
        self, outbox_source: OutboxSource, enqueue: EnqueueEntry
    ) -> None:
        stream = uuid4()
        first, second = enqueue(stream), enqueue(stream)
        outbox_source.claim("relay-a", 1, LONG)
        assert outbox_source.dead_letter("relay-a", first, "poison")
        assert [m.entry_id for m in outbox_source.claim("relay-a", 10, LONG)] == [second]
        [dead] = outbox_source.dead_letters()
        assert (dead.entry_id, dead.attempts, dead.last_error) == (first, 1, "poison")

    def test_replay_requeues_a_dead_letter_with_fresh_attempts(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        entry_id = one()
        outbox_source.claim("relay-a", 10, LONG)
        outbox_source.dead_letter("relay-a", entry_id, "poison")
        assert outbox_source.claim("relay-a", 10, LONG) == []
        assert outbox_source.replay_dead_letters() == 1
        assert outbox_source.dead_letters() == []
        [message] = outbox_source.claim("relay-b", 10, LONG)
        assert (message.entry_id, message.attempts) == (entry_id, 0)

    def test_replay_and_purge_take_chosen_ids(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        ids = [one() for _ in range(3)]
        outbox_source.claim("relay-a", 10, LONG)
        for entry_id in ids:
            outbox_source.dead_letter("relay-a", entry_id, f"error {entry_id}")
        assert outbox_source.replay_dead_letters([ids[0]]) == 1
        assert outbox_source.purge_dead_letters([ids[1], 999_999_999]) == 1
        assert [m.entry_id for m in outbox_source.dead_letters()] == [ids[2]]
        assert [m.entry_id for m in outbox_source.dead_letters(after_id=ids[2])] == []
        assert outbox_source.purge_dead_letters() == 1
        assert [m.entry_id for m in outbox_source.claim("relay-a", 10, LONG)] == [ids[0]]

    def test_dead_letters_pages_by_id(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        ids = [one() for _ in range(3)]
        outbox_source.claim("relay-a", 10, LONG)
        for entry_id in ids:
            outbox_source.dead_letter("relay-a", entry_id, "x")
        page = outbox_source.dead_letters(limit=2)
        assert [m.entry_id for m in page] == ids[:2]
        assert [m.entry_id for m in outbox_source.dead_letters(after_id=ids[1])] == ids[2:]

    def test_release_gives_back_what_an_owner_holds(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        ids = [one() for _ in range(3)]
        outbox_source.claim("relay-a", 2, LONG)
        outbox_source.claim("relay-b", 2, LONG)
        assert outbox_source.release("relay-a", [ids[0]]) == 1
        assert outbox_source.release("relay-a") == 1
        claimed = outbox_source.claim("relay-c", 10, LONG)
        assert [(m.entry_id, m.attempts) for m in claimed] == [(ids[0], 0), (ids[1], 0)]

    def test_acknowledge_removes_entries(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        ids = [one() for _ in range(3)]
        outbox_source.claim("relay-a", 10, LONG)
        assert outbox_source.acknowledge(ids[:2]) == 2
        assert outbox_source.acknowledge(ids[:2]) == 0
        stats = outbox_source.stats()
        assert (stats.pending, stats.in_flight, stats.dead) == (0, 1, 0)

    def test_stats_count_every_state(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        assert outbox_source.stats().oldest_age is None
        ids = [one() for _ in range(4)]
        outbox_source.claim("relay-a", 3, LONG)
        outbox_source.dead_letter("relay-a", ids[0], "x")
        outbox_source.retry_later("relay-a", ids[1], "x", datetime.now(UTC) + LONG)
        stats = outbox_source.stats()
        assert (stats.pending, stats.in_flight, stats.dead) == (2, 1, 1)
        assert stats.oldest_age is not None
        assert stats.oldest_age >= timedelta(0)

    def test_wait_for_entries_times_out_when_nothing_comes(
        self, outbox_source: OutboxSource
    ) -> None:
        assert outbox_source.wait_for_entries(0.05) is False

    def test_messages_are_values(
        self, outbox_source: OutboxSource, one: Callable[..., int]
    ) -> None:
        one()
        [message] = outbox_source.claim("relay-a", 1, LONG)
        assert isinstance(message, OutboxMessage)
        payload = message.as_payload()
        assert payload["event_uuid"] == str(message.event_uuid)
        assert payload["partition_key"] == message.partition_key
