"""Every publisher keeps a stream's order inside a batch, on real brokers: once a message of a
stream fails, nothing later of that stream is sent (it is reported not attempted), while the
other streams of the batch go through. Webhooks send a stream's messages one at a time and
different streams at once."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pika
import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxMessage, Publisher, PublishOutcome
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.publishers.redis_streams import RedisStreamsPublisher
from eventhex_outbox_relay.publishers.stdout import StdoutPublisher
from eventhex_outbox_relay.publishers.webhook import WebhookPublisher
from tests.outbox_relay._kafka import read_topic
from tests.outbox_relay._servers import NatsServer, RabbitServer, RedisServer
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.outbox_relay.conftest import assert_delivered_in_stream_order, fill
from tests.outbox_relay.test_brokers import bind_rabbit_queue, read_nats, read_rabbit, read_redis

pytestmark = pytest.mark.broker


def _circular() -> dict[str, Any]:
    data: dict[str, Any] = {}
    data["self"] = data
    return data


def _batch(
    source: InMemoryOutboxSource, broken: dict[str, Any] | None = None
) -> tuple[list[OutboxMessage], list[OutboxMessage], list[OutboxMessage]]:
    """Stream a (four messages, the second carrying ``broken`` data when given) interleaved
    with stream b (three): the claimed batch, a's messages and b's."""
    a, b = uuid4(), uuid4()
    sent_a, sent_b = [], []
    for n in range(4):
        data = broken if n == 1 and broken is not None else {"n": n}
        sent_a.append(source.enqueue(stream_uuid=a, version=n + 1, data=data))
        if n < 3:
            sent_b.append(source.enqueue(stream_uuid=b, version=n + 1, data={"n": n}))
    batch = source.claim("test", 100, timedelta(minutes=1))
    return batch, sent_a, sent_b


def _assert_stream_a_stopped_at_its_second(
    outcomes: list[PublishOutcome], a: list[OutboxMessage], b: list[OutboxMessage]
) -> None:
    by_id = {o.entry_id: o for o in outcomes}
    assert by_id[a[0].entry_id].delivered
    assert (by_id[a[1].entry_id].delivered, by_id[a[1].entry_id].attempted) == (False, True)
    for later in a[2:]:
        assert (by_id[later.entry_id].delivered, by_id[later.entry_id].attempted) == (False, False)
    assert all(by_id[m.entry_id].delivered for m in b)


def _uuids(messages: list[OutboxMessage]) -> set[str]:
    return {str(m.event_uuid) for m in messages}


@pytest.fixture(params=["webhook", "redis", "rabbitmq", "nats", "kafka", "stdout"])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[Publisher, Callable[[], set[str]]]]:
    """A publisher on a real broker, and what the broker received (event uuids)."""
    tag = uuid4().hex[:6]
    name = request.param
    read: Callable[[], list[dict[str, Any]]]
    if name == "webhook":
        sink: WebhookSink = request.getfixturevalue("webhook")
        url, read = sink.url, lambda: sink.delivered
    elif name == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = f"{server.url}?stream=o{tag}"
        read = lambda: read_redis(server.url, f"o{tag}")  # noqa: E731
    elif name == "rabbitmq":
        rabbit: RabbitServer = request.getfixturevalue("rabbit_server")
        url = f"{rabbit.url}?exchange=o{tag}"
        queue = bind_rabbit_queue(rabbit.url, f"o{tag}")
        read = lambda: read_rabbit(rabbit.url, queue)  # noqa: E731
    elif name == "nats":
        nats_server: NatsServer = request.getfixturevalue("nats_server")
        url = f"{nats_server.url}?stream=O{tag}&subject=o{tag}"
        read = lambda: read_nats(nats_server.url, f"O{tag}")  # noqa: E731
    elif name == "kafka":
        kafka = request.getfixturevalue("kafka_server")
        url = f"{kafka.url}?topic=o{tag}"
        read = lambda: [r.payload for r in read_topic(kafka.bootstrap, f"o{tag}")]  # noqa: E731
    else:
        out = io.StringIO()
        publisher: Publisher = StdoutPublisher(out)
        yield publisher, lambda: {json.loads(line)["event_uuid"] for line in out.getvalue().split()}
        return
    publisher = publisher_from_url(url)
    yield publisher, lambda: {payload["event_uuid"] for payload in read()}
    publisher.close()


def test_nothing_of_a_stream_is_sent_after_a_message_that_cannot_be_encoded(
    broker: tuple[Publisher, Callable[[], set[str]]],
) -> None:
    publisher, received = broker
    batch, a, b = _batch(InMemoryOutboxSource(), broken=_circular())

    outcomes = publisher.publish(batch)

    _assert_stream_a_stopped_at_its_second(outcomes, a, b)
    assert received() == _uuids([a[0], *b])


def test_a_webhook_refusal_stops_its_stream_and_the_others_go_on(webhook: WebhookSink) -> None:
    publisher = WebhookPublisher(webhook.url)
    batch, a, b = _batch(InMemoryOutboxSource())
    webhook.refused.add(str(a[1].event_uuid))

    outcomes = publisher.publish(batch)
    publisher.close()

    _assert_stream_a_stopped_at_its_second(outcomes, a, b)
    assert set(webhook.calls) == _uuids([*a[:2], *b])  # a[2:] were never posted


class _RefusedByRedis(RedisStreamsPublisher):
    """Sends one chosen message without fields, which Redis refuses (a wrong ``XADD``)."""

    refuse = ""

    def _fields(self, message: OutboxMessage) -> dict[str, bytes | str]:
        return {} if str(message.event_uuid) == self.refuse else super()._fields(message)


def test_a_redis_refusal_stops_its_stream_and_the_others_go_on(redis_server: RedisServer) -> None:
    key = f"r{uuid4().hex[:6]}"
    publisher = _RefusedByRedis(f"{redis_server.url}?stream={key}")
    batch, a, b = _batch(InMemoryOutboxSource())
    publisher.refuse = str(a[1].event_uuid)

    outcomes = publisher.publish(batch)
    publisher.close()

    _assert_stream_a_stopped_at_its_second(outcomes, a, b)
    assert "wrong number of arg" in next(o for o in outcomes if not o.delivered).error.lower()
    assert [p["event_uuid"] for p in read_redis(redis_server.url, key)] == [
        str(m.event_uuid) for m in batch if m in (a[0], *b)
    ]


def test_a_rabbitmq_nack_stops_its_stream_and_the_others_go_on(
    rabbit_server: RabbitServer,
) -> None:
    exchange = f"n{uuid4().hex[:6]}"
    everything = bind_rabbit_queue(rabbit_server.url, exchange)
    batch, a, b = _batch(InMemoryOutboxSource())
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_server.url))
    full_after_one = f"q-{uuid4().hex[:8]}"  # holds one message of stream a, then refuses
    channel = connection.channel()
    arguments = {"x-max-length": 1, "x-overflow": "reject-publish"}
    channel.queue_declare(full_after_one, durable=True, arguments=arguments)
    channel.queue_bind(full_after_one, exchange, routing_key=a[0].partition_key)
    connection.close()
    publisher = publisher_from_url(f"{rabbit_server.url}?exchange={exchange}")

    outcomes = publisher.publish(batch)
    publisher.close()

    _assert_stream_a_stopped_at_its_second(outcomes, a, b)
    assert "nack" in next(o for o in outcomes if not o.delivered).error
    sent = [m.event_uuid for m in batch if m.entry_id in {o.entry_id for o in outcomes}]
    received = [p["event_uuid"] for p in read_rabbit(rabbit_server.url, everything)]
    assert received == [str(u) for u in sent if str(u) in _uuids([*a[:2], *b])]


def test_webhooks_send_a_stream_one_at_a_time_and_streams_at_once(
    webhook: WebhookSink, quick_relay: Callable[..., Relay]
) -> None:
    source = InMemoryOutboxSource()
    expected = fill(source, streams=12, per_stream=8)
    webhook.delay = 0.01  # answers take a while, so that lanes overlap
    relay = quick_relay(source, WebhookPublisher(webhook.url, concurrency=4), batch_size=96)

    relay.step()

    assert relay.report.published == 96
    assert_delivered_in_stream_order(expected, webhook.delivered, exactly_once=True)
    assert not webhook.overlapped_in_a_stream
    assert 1 < webhook.most_at_once <= 4


def test_an_unreachable_webhook_is_an_outage_on_every_lane(
    quick_relay: Callable[..., Relay],
) -> None:
    sink = WebhookSink()
    url = sink.url
    sink.close()  # nothing listens there any more
    source = InMemoryOutboxSource()
    fill(source, streams=6, per_stream=3)
    relay = quick_relay(source, WebhookPublisher(url, timeout=1, concurrency=3))

    relay.step()

    assert (relay.report.outages, relay.report.published, relay.report.retried) == (1, 0, 0)
    stats = source.stats()
    assert (stats.pending, stats.in_flight, stats.dead) == (18, 0, 0)


def test_a_webhook_needs_at_least_one_lane() -> None:
    with pytest.raises(ValueError, match="concurrency is 0: give 1 or more"):
        WebhookPublisher("http://127.0.0.1:1/hook", concurrency=0)
