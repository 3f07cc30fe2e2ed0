"""Ids the input rules accept, however hostile, reach every real broker without harming a batch.

Each test relays a batch in which a few events carry a hostile category, tenant id or event
name (non-Latin-1, CR/LF, tabs, NATS wildcards and a protocol-injection attempt, a partition key
over 255 bytes) among ordinary ones, and checks that every event arrived once, with its ids
intact in the body and encoded (or bounded) where the protocol needs it, with no outage and no
failed attempt; then that the next batch goes through the same connection as usual. A message
that cannot be encoded at all fails alone, on every publisher.
"""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote
from uuid import uuid4

import nats
import pika
import pytest
from event_sourcery import StreamId

from eventhex_core_ports._internal.validation import (
    check_stream_id,
    check_tenant_id,
)
from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxMessage, Publisher
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.publishers.webhook import WebhookPublisher
from tests.outbox_relay._kafka import read_topic, topics
from tests.outbox_relay._servers import NatsServer, RabbitServer, RedisServer, TansuServer
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.outbox_relay.test_brokers import bind_rabbit_queue, read_nats, read_redis
from tests.reliability._report import ReliabilityReport

pytestmark = pytest.mark.broker

INJECTION = "x\t0\t0\r\n\r\nPUB\tevil\t5\r\nhello\r\n"
HOSTILE_CATEGORIES = {
    "non-Latin-1": "płatności",
    "CR/LF": "line\r\nX-Injected: 1",
    "tab": "tab\there",
    "NATS wildcards": "wild*card>",
    "dots and spaces": "a.b c",
    "NATS protocol injection": INJECTION,
    "percent sign": "100%25",
    "escape sequence": "\x1b[2Jcleared",
    "right-to-left override": "\u202eevil",
}
LONG_TENANT = "ż" * 215
"""215 characters (430 bytes): a valid tenant id whose partition key exceeds 255 bytes."""


def _hostile(source: InMemoryOutboxSource) -> dict[str, OutboxMessage]:
    """Enqueue one event per hostile id, each valid by the input rules, and two plain ones."""
    sent: dict[str, OutboxMessage] = {}
    for label, category in HOSTILE_CATEGORIES.items():
        check_stream_id(StreamId(name="s", category=category))
        sent[label] = source.enqueue(stream_category=category, event_name=f"Evt {category}")
    check_tenant_id(LONG_TENANT)
    sent["partition key over 255 bytes"] = source.enqueue(
        tenant_id=LONG_TENANT, stream_category="order", event_name="Long" + "ł" * 200
    )
    sent["plain 1"] = source.enqueue(stream_category="order", tenant_id="acme")
    sent["plain 2"] = source.enqueue()
    return sent


@pytest.fixture
def relay_twice(
    quick_relay: Callable[..., Relay], reliability: ReliabilityReport
) -> Iterator[Callable[[Publisher], tuple[InMemoryOutboxSource, dict[str, OutboxMessage]]]]:
    """Relays the hostile batch, then one more plain event on the same publisher."""
    labels: list[str] = []

    def run(publisher: Publisher) -> tuple[InMemoryOutboxSource, dict[str, OutboxMessage]]:
        source = InMemoryOutboxSource()
        sent = _hostile(source)
        labels.extend(k for k in sent if not k.startswith("plain"))
        for label in labels:
            reliability.tried(f"relay hostile id: {label}")
        relay = quick_relay(source, publisher, batch_size=100)
        assert relay.step() == len(sent)  # one batch
        sent["next batch"] = source.enqueue(stream_category="order")
        relay.run(drain=True)
        assert relay.report.published == len(sent)
        assert (relay.report.retried, relay.report.dead_lettered, relay.report.outages) == (0, 0, 0)
        stats = source.stats()
        assert (stats.pending, stats.in_flight, stats.dead) == (0, 0, 0)
        return source, sent

    yield run
    for label in labels:  # reached only when every assertion of the test passed
        reliability.handled(f"relay hostile id: {label}")


def _same_events(sent: dict[str, OutboxMessage], payloads: list[dict[str, Any]]) -> None:
    expected = sorted(str(m.event_uuid) for m in sent.values())
    assert sorted(p["event_uuid"] for p in payloads) == expected
    by_uuid = {p["event_uuid"]: p for p in payloads}
    for message in sent.values():
        body = by_uuid[str(message.event_uuid)]
        assert body["stream_category"] == message.stream_category
        assert body["tenant_id"] == message.tenant_id
        assert body["event_name"] == message.event_name


def test_webhook_headers_carry_any_id_percent_encoded(
    webhook: WebhookSink, relay_twice: Callable[..., Any]
) -> None:
    """The issue's case: 5 events, one with category ``płatności``, gave 0 published, 5
    dead-lettered, 6 POSTs and 2 outages; now every event is one POST, delivered."""
    _, sent = relay_twice(WebhookPublisher(webhook.url, secret="k"))
    _same_events(sent, webhook.delivered)
    assert sum(webhook.calls.values()) == len(sent)  # no POST twice
    for payload, headers in zip(webhook.delivered, webhook.headers, strict=True):
        key, name = headers["X-Eventhex-Partition-Key"], headers["X-Eventhex-Event-Name"]
        assert all(c in string.printable and c not in string.whitespace for c in key + name)
        assert unquote(key) == payload["partition_key"]
        assert unquote(name) == payload["event_name"]
    plain = next(h for p, h in zip(webhook.delivered, webhook.headers, strict=True)
                 if p["tenant_id"] == "acme")  # fmt: skip
    assert plain["X-Eventhex-Partition-Key"].startswith("acme:order:")  # plain ids unchanged


def test_redis_streams_carry_any_id_verbatim(
    redis_server: RedisServer, relay_twice: Callable[..., Any]
) -> None:
    key = f"hostile-{uuid4().hex[:6]}"
    _, sent = relay_twice(publisher_from_url(f"{redis_server.url}?stream={key}"))
    _same_events(sent, read_redis(redis_server.url, key))


def test_rabbitmq_routing_keys_are_bounded_and_headers_keep_the_originals(
    rabbit_server: RabbitServer, relay_twice: Callable[..., Any]
) -> None:
    exchange = f"ex-{uuid4().hex[:6]}"
    queue = bind_rabbit_queue(rabbit_server.url, exchange)
    _, sent = relay_twice(publisher_from_url(f"{rabbit_server.url}?exchange={exchange}"))
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_server.url))
    received: list[dict[str, Any]] = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            payload = json.loads(body)
            received.append(payload)
            assert len(method.routing_key.encode()) <= 255
            assert len(properties.type.encode()) <= 255
            assert properties.headers["partition_key"] == payload["partition_key"]
            assert properties.headers["event_name"] == payload["event_name"]
            if len(payload["partition_key"].encode()) <= 255:
                assert method.routing_key == payload["partition_key"]
            else:
                assert method.routing_key.startswith("ż" * 50)
                assert "~" in method.routing_key
    finally:
        connection.close()
    _same_events(sent, received)


def test_kafka_topics_keys_and_headers_carry_any_id(
    kafka_server: TansuServer, relay_twice: Callable[..., Any]
) -> None:
    """A ``{category}`` topic template turns each hostile category into a legal topic name;
    keys and headers carry the ids verbatim (Kafka headers and keys are bytes)."""
    prefix = f"h{uuid4().hex[:6]}"
    _, sent = relay_twice(publisher_from_url(f"{kafka_server.url}?topic={prefix}.{{category}}"))
    ours = [t for t in topics(kafka_server.bootstrap) if t.startswith(prefix + ".")]
    legal = set(string.ascii_letters + string.digits + "._-")
    assert all(set(t) <= legal and len(t) <= 249 for t in ours)
    records = [r for t in ours for r in read_topic(kafka_server.bootstrap, t)]
    _same_events(sent, [r.payload for r in records])
    for record in records:
        assert record.key == record.payload["partition_key"]
        assert record.headers["event_name"].decode() == record.payload["event_name"]


def _nats_subjects(url: str, publish: Callable[[], None]) -> list[str]:
    """Every subject any client publishes on while ``publish()`` runs (a core subscription to
    ``>``: a message injected outside JetStream would show up here)."""
    seen: list[str] = []

    async def watch() -> None:
        client = await nats.connect(url)
        try:

            async def record(message: Any) -> None:
                seen.append(message.subject)

            await client.subscribe(">", cb=record)
            await client.flush()
            await asyncio.get_running_loop().run_in_executor(None, publish)
            await client.flush()
            await asyncio.sleep(0.2)  # let the subscription drain what the server forwarded
        finally:
            await client.close()

    asyncio.run(watch())
    return seen


def test_nats_subjects_use_a_safe_alphabet_and_nothing_is_injected(
    nats_server: NatsServer, relay_twice: Callable[..., Any]
) -> None:
    stream = f"H{uuid4().hex[:6]}"
    prefix = stream.lower()
    url = f"{nats_server.url}?stream={stream}&subject={prefix}"
    result: dict[str, Any] = {}
    subjects = _nats_subjects(
        nats_server.url, lambda: result.update(sent=relay_twice(publisher_from_url(url))[1])
    )
    sent = result["sent"]
    ours = [s for s in subjects if not s.startswith(("$JS.", "_INBOX."))]
    assert len(ours) == len(sent)  # one publish per event, nothing else on any subject
    safe = set(string.ascii_letters + string.digits + "_-%~")
    for subject in ours:
        head, token = subject.split(".")
        assert head == prefix
        assert set(token) <= safe
    assert "evil" not in subjects
    _same_events(sent, read_nats(nats_server.url, stream))


def test_nats_message_over_the_servers_payload_limit_fails_alone(
    nats_server: NatsServer, quick_relay: Callable[..., Relay], reliability: ReliabilityReport
) -> None:
    reliability.tried("relay unsendable message: NATS payload over max_payload")
    stream = f"P{uuid4().hex[:6]}"
    url = f"{nats_server.url}?stream={stream}&subject={stream.lower()}"
    source = InMemoryOutboxSource()
    plain = [source.enqueue() for _ in range(3)]
    big = source.enqueue(data={"blob": "x" * 1_100_000}, max_attempts=5)
    relay = quick_relay(source, publisher_from_url(url))
    relay.step()
    assert relay.report.published == 3
    assert (relay.report.retried, relay.report.outages) == (1, 0)
    waiting = source.peek(big.entry_id)
    assert waiting is not None
    assert waiting.attempts == 1
    assert "MaxPayload" in waiting.last_error
    after = source.enqueue()
    relay.step()
    assert relay.report.published == 4  # the connection was kept and works
    delivered = {p["event_uuid"] for p in read_nats(nats_server.url, stream)}
    assert delivered == {str(m.event_uuid) for m in [*plain, after]}
    reliability.handled("relay unsendable message: NATS payload over max_payload")


def _circular() -> dict[str, Any]:
    data: dict[str, Any] = {}
    data["self"] = data
    return data


@pytest.mark.parametrize("broker", ["webhook", "redis", "rabbitmq", "nats", "kafka", "stdout"])
def test_a_message_that_cannot_be_encoded_fails_alone(
    broker: str,
    request: pytest.FixtureRequest,
    quick_relay: Callable[..., Relay],
    reliability: ReliabilityReport,
) -> None:
    reliability.tried(f"relay unsendable message: {broker}")
    tag = uuid4().hex[:6]
    if broker == "webhook":
        sink: WebhookSink = request.getfixturevalue("webhook")
        url = sink.url
    elif broker == "redis":
        url = f"{request.getfixturevalue('redis_server').url}?stream=c{tag}"
    elif broker == "rabbitmq":
        url = f"{request.getfixturevalue('rabbit_server').url}?exchange=c{tag}"
    elif broker == "kafka":
        url = f"{request.getfixturevalue('kafka_server').url}?topic=c{tag}"
    elif broker == "stdout":
        url = "stdout:"
    else:
        url = f"{request.getfixturevalue('nats_server').url}?stream=C{tag}&subject=c{tag}"
    source = InMemoryOutboxSource()
    good = [source.enqueue() for _ in range(3)]
    bad = source.enqueue(data=_circular(), max_attempts=5)
    relay = quick_relay(source, publisher_from_url(url))
    relay.step()
    assert (relay.report.published, relay.report.retried, relay.report.outages) == (3, 1, 0)
    waiting = source.peek(bad.entry_id)
    assert waiting is not None
    assert "Circular reference" in waiting.last_error
    source.enqueue()
    relay.step()
    assert relay.report.published == len(good) + 1
    reliability.handled(f"relay unsendable message: {broker}")
