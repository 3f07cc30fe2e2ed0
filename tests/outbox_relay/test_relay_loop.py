"""The relay loop on the in-memory source, publishing to a real local webhook server."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import random
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from eventhex_core_ports.in_memory._store import InMemoryStore
from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    OutboxSourceUnusable,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay import DrainGaveUp, Relay
from eventhex_outbox_relay._backoff import Backoff
from eventhex_outbox_relay.publishers._order import HELD_BACK
from eventhex_outbox_relay.publishers.stdout import StdoutPublisher
from eventhex_outbox_relay.publishers.webhook import WebhookPublisher
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.outbox_relay.conftest import assert_delivered_in_stream_order, fill


def test_webhook_delivers_every_stream_in_order(
    memory_source: InMemoryOutboxSource, webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    expected = fill(memory_source, streams=6, per_stream=5)
    report = quick_relay(memory_source, WebhookPublisher(webhook.url)).run(drain=True)
    assert report.published == 30
    assert_delivered_in_stream_order(expected, webhook.delivered, exactly_once=True)
    assert memory_source.stats().pending == 0


def test_messages_carry_the_event_identity_and_a_valid_signature(
    memory_source: InMemoryOutboxSource, webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    correlation, causation = str(uuid4()), str(uuid4())
    sent = memory_source.enqueue(
        event_name="OrderPlaced",
        stream_name="order-1",
        stream_category="order",
        tenant_id="acme",
        version=1,
        context={"correlation_id": correlation, "causation_id": causation},
        data={"total": 10},
    )
    publisher = WebhookPublisher(webhook.url, secret="s3cret")
    quick_relay(memory_source, publisher).run(drain=True)
    [payload], [headers] = webhook.delivered, webhook.headers
    assert payload["event_uuid"] == str(sent.event_uuid)
    assert payload["event_name"] == "OrderPlaced"
    assert payload["stream_uuid"] == str(sent.stream_uuid)
    assert (payload["stream_name"], payload["stream_category"]) == ("order-1", "order")
    assert (payload["tenant_id"], payload["version"]) == ("acme", 1)
    assert (payload["event_version"], headers["X-Eventhex-Event-Version"]) == (1, "1")
    assert payload["position"] == str(sent.position)
    assert datetime.fromisoformat(payload["created_at"]) == sent.created_at
    assert (payload["correlation_id"], payload["causation_id"]) == (correlation, causation)
    assert payload["partition_key"] == f"acme:order:{sent.stream_uuid}"
    assert payload["data"] == {"total": 10}
    body = json.dumps(payload, separators=(",", ":")).encode()
    signed_names = headers["X-Eventhex-Signed-Headers"].split(",")
    assert signed_names == [
        "content-type",
        "x-eventhex-event-id",
        "x-eventhex-event-name",
        "x-eventhex-event-version",
        "x-eventhex-partition-key",
    ]
    lowered = {name.lower(): value for name, value in headers.items()}
    lines = [f"{name}:{lowered[name]}" for name in signed_names]
    signed = "\n".join(["v2", headers["X-Eventhex-Timestamp"], *lines, "", ""]).encode() + body
    digest = hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert headers["X-Eventhex-Signature"] == f"v2={digest}"
    assert headers["X-Eventhex-Event-Id"] == str(sent.event_uuid)


def test_a_failing_message_is_retried_with_growing_backoff_then_delivered(
    webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    store = InMemoryStore()
    source = InMemoryOutboxSource(store)
    stream = uuid4()
    first = source.enqueue(stream_uuid=stream, version=1, max_attempts=5)
    second = source.enqueue(stream_uuid=stream, version=2, max_attempts=5)
    webhook.failures_left[str(first.event_uuid)] = 2
    relay = quick_relay(source, WebhookPublisher(webhook.url), backoff=Backoff(1.0, 10.0))

    for ceiling in (1.0, 2.0):  # two failed attempts: the retry time each one recorded
        before = datetime.now(UTC)
        relay.step()
        after = datetime.now(UTC)
        waiting = store.outbox.rows[first.entry_id]
        assert waiting.next_attempt_at is not None
        # the delay d, drawn from [ceiling / 2, ceiling], lies between these two bounds
        assert (waiting.next_attempt_at - before).total_seconds() >= ceiling / 2
        assert (waiting.next_attempt_at - after).total_seconds() <= ceiling
        assert source.claim("someone-else", 10, timedelta(seconds=1)) == []  # stream blocked
        waiting.next_attempt_at = None  # let it come due without waiting
    relay.run(drain=True)
    assert webhook.delivered_uuids() == [str(first.event_uuid), str(second.event_uuid)]
    assert webhook.calls[str(first.event_uuid)] == 3
    assert relay.report.retried == 2


def test_backoff_doubles_to_its_cap_with_jitter_in_the_upper_half() -> None:
    backoff = Backoff(base=1.0, maximum=8.0, rng=random.Random(7))
    assert [backoff.ceiling(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    delays = [backoff.delay(3) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 100


def test_a_message_that_keeps_failing_is_dead_lettered_and_replay_delivers_it(
    memory_source: InMemoryOutboxSource, webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    stream = uuid4()
    poison = memory_source.enqueue(stream_uuid=stream, version=1, max_attempts=3)
    after = memory_source.enqueue(stream_uuid=stream, version=2, max_attempts=3)
    webhook.refused.add(str(poison.event_uuid))
    report = quick_relay(memory_source, WebhookPublisher(webhook.url)).run(drain=True)
    assert report.dead_lettered == 1
    assert webhook.calls[str(poison.event_uuid)] == 3
    assert webhook.delivered_uuids() == [str(after.event_uuid)]  # the stream moved on
    [dead] = memory_source.dead_letters()
    assert (dead.entry_id, dead.attempts) == (poison.entry_id, 3)
    assert "HTTP 422" in dead.last_error

    webhook.refused.clear()
    assert memory_source.replay_dead_letters() == 1
    quick_relay(memory_source, WebhookPublisher(webhook.url)).run(drain=True)
    assert webhook.delivered_uuids() == [str(after.event_uuid), str(poison.event_uuid)]
    assert memory_source.stats().dead == 0


def test_an_unreachable_broker_costs_no_attempts(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    webhook = WebhookSink()
    url = webhook.url
    webhook.close()  # nothing listens there any more
    memory_source.enqueue(max_attempts=1)
    relay = quick_relay(memory_source, WebhookPublisher(url, timeout=1))
    for _ in range(3):
        relay.step()
    assert relay.report.outages == 3
    stats = memory_source.stats()
    assert (stats.pending, stats.in_flight, stats.dead) == (1, 0, 0)
    [message] = memory_source.claim("check", 1, timedelta(seconds=1))
    assert message.attempts == 0


def test_stop_finishes_the_batch_in_hand_and_releases_the_rest(
    memory_source: InMemoryOutboxSource, webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    fill(memory_source, streams=40, per_stream=1)
    relay = quick_relay(memory_source, WebhookPublisher(webhook.url), batch_size=10)
    webhook.delay = 0.02
    thread = threading.Thread(target=relay.run)
    thread.start()
    while len(webhook.delivered) < 5:
        threading.Event().wait(0.01)
    relay.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    delivered = len(webhook.delivered)
    assert delivered % 10 == 0  # whole batches only: the one in hand was finished
    stats = memory_source.stats()
    assert (stats.pending, stats.in_flight) == (40 - delivered, 0)


def test_stdout_writes_one_json_object_per_line(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    expected = fill(memory_source, streams=2, per_stream=2)
    out = io.StringIO()
    quick_relay(memory_source, StdoutPublisher(out)).run(drain=True)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 4
    assert_delivered_in_stream_order(expected, lines, exactly_once=True)


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_dead_letter_comes_after_exactly_max_attempts(
    max_attempts: int, webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    source = InMemoryOutboxSource()
    message = source.enqueue(max_attempts=max_attempts)
    webhook.refused.add(str(message.event_uuid))
    quick_relay(source, WebhookPublisher(webhook.url)).run(drain=True)
    assert webhook.calls[str(message.event_uuid)] == max_attempts
    assert [m.entry_id for m in source.dead_letters()] == [message.entry_id]


class _HoldsBack(Publisher):
    """Delivers everything but the entries it is told to hold back (a publisher whose batch had
    an earlier entry of their stream fail)."""

    def __init__(self, held: set[int]) -> None:
        self.held = held

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        return [
            PublishOutcome(m.entry_id, False, HELD_BACK, attempted=False)
            if m.entry_id in self.held
            else PublishOutcome(m.entry_id, True)
            for m in messages
        ]


def test_held_back_entries_are_released_without_an_attempt(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    held = memory_source.enqueue(max_attempts=1)
    other = memory_source.enqueue()
    relay = quick_relay(memory_source, _HoldsBack({held.entry_id}))
    relay.step()
    assert (relay.report.published, relay.report.retried, relay.report.dead_lettered) == (1, 0, 0)
    [again] = memory_source.claim("check", 10, timedelta(seconds=1))
    assert (again.entry_id, again.attempts) == (held.entry_id, 0)  # due at once, uncharged
    assert other.entry_id not in {m.entry_id for m in memory_source.dead_letters()}


class UnmigratedSource(InMemoryOutboxSource):
    """A source whose tables are missing: every claim says so; counts claims and releases."""

    def __init__(self) -> None:
        super().__init__()
        self.claims = 0
        self.releases = 0

    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        self.claims += 1
        raise OutboxSourceUnusable("tables missing: run `python manage.py migrate`")

    def release(self, owner: str, entry_ids: Sequence[int] | None = None) -> int:
        self.releases += 1
        return super().release(owner, entry_ids)


def test_an_unusable_source_stops_the_relay_instead_of_retrying(
    quick_relay: Callable[..., Relay],
) -> None:
    source = UnmigratedSource()
    relay = quick_relay(source, StdoutPublisher(io.StringIO()))
    with pytest.raises(OutboxSourceUnusable, match=r"manage\.py migrate"):
        relay.run()
    assert (source.claims, source.releases) == (1, 0)


class FlakyBroker(StdoutPublisher):
    """A broker that is unreachable for its first ``outages`` batches."""

    def __init__(self, outages: int) -> None:
        super().__init__(io.StringIO())
        self.outages = outages

    def publish(self, batch: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        if self.outages:
            self.outages -= 1
            raise PublisherUnavailable("connection refused")
        return super().publish(batch)


def test_a_drain_gives_up_on_a_broker_that_stays_away(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    fill(memory_source, streams=2, per_stream=2)
    relay = quick_relay(memory_source, FlakyBroker(outages=10**9))
    with pytest.raises(DrainGaveUp, match="broker unavailable: connection refused") as gave_up:
        relay.run(drain=True, give_up_after=0.2)
    assert gave_up.value.seconds >= 0.2
    assert relay.report.outages >= 2
    assert memory_source.stats().pending == 4  # released, nothing charged


def test_a_drain_rides_out_a_short_outage(
    memory_source: InMemoryOutboxSource, quick_relay: Callable[..., Relay]
) -> None:
    fill(memory_source, streams=2, per_stream=2)
    relay = quick_relay(memory_source, FlakyBroker(outages=3))
    report = relay.run(drain=True, give_up_after=60)
    assert (report.published, report.outages) == (4, 3)


class AwayDatabase(InMemoryOutboxSource):
    """An outbox whose database does not answer."""

    def claim(self, owner: str, limit: int, lease: timedelta) -> list[OutboxMessage]:
        raise ConnectionError("database is away")


def test_a_drain_gives_up_on_an_outbox_that_stays_away(quick_relay: Callable[..., Relay]) -> None:
    relay = quick_relay(AwayDatabase(), FlakyBroker(outages=0))
    with pytest.raises(DrainGaveUp, match="ConnectionError: database is away"):
        relay.run(drain=True, give_up_after=0.2)
