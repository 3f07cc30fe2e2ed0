"""CloudEvents envelopes and W3C trace context, as each real broker delivers them.

Every publisher relays the same two events: a plain one whose context carries an OpenTelemetry
carrier (``traceparent``, ``tracestate``), correlation and causation ids, and one with hostile
ids (CR/LF in the event name, a non-Latin category). What arrives is parsed back with the
CloudEvents SDK's own bindings and must give back every attribute; plain ``traceparent``
headers ride along where the protocol has headers.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

import nats
import pika
import pytest
import redis
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import http, kafka, rabbitmq
from cloudevents.core.formats.json import JSONFormat

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxMessage, Publisher
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.publishers.stdout import StdoutPublisher
from tests.outbox_relay._kafka import create_topic, read_topic
from tests.outbox_relay._servers import NatsServer, RabbitServer, RedisServer, TansuServer
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.outbox_relay.test_brokers import bind_rabbit_queue

pytestmark = pytest.mark.broker

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACESTATE = "vendor=opaque,other=1"
FORMAT = JSONFormat()


@dataclass
class Received:
    """One delivered message: its protocol headers (names lower-cased) and the CloudEvent the
    SDK reads from it."""

    headers: dict[str, str]
    event: BaseCloudEvent


def _enqueue(source: InMemoryOutboxSource) -> list[OutboxMessage]:
    traced = source.enqueue(
        event_name="OrderPlaced",
        stream_name="order-1",
        stream_category="order",
        tenant_id="acme",
        version=3,
        context={
            "correlation_id": str(uuid4()),
            "causation_id": str(uuid4()),
            "event_version": 2,
            "components": {
                "opentelemetry": {"values": {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}}
            },
        },
        data={"total": 10, "note": "żółć"},
    )
    hostile = source.enqueue(
        event_name="Evt\r\nX-Injected: 1",
        stream_category="płatności 100%",
        data={"ok": True},
    )
    return [traced, hostile]


def _check(received: list[Received], sent: list[OutboxMessage], *, binary: bool) -> None:
    by_id = {r.event.get_id(): r for r in received}
    assert sorted(by_id) == sorted(str(m.event_uuid) for m in sent)
    for message in sent:
        got = by_id[str(message.event_uuid)]
        event = got.event
        assert event.get_specversion() == "1.0"
        assert event.get_type() == message.event_name
        assert event.get_subject() == str(message.stream_uuid)
        assert event.get_source().startswith("/eventhex/")
        assert event.get_datacontenttype() == "application/json"
        time = event.get_time()
        assert isinstance(time, datetime)
        assert time == message.created_at
        assert event.get_data() == dict(message.data)
        assert event.get_extension("partitionkey") == message.partition_key
        assert event.get_extension("position") == str(message.position)
        if message.stream_name:  # the traced one
            assert event.get_source() == "/eventhex/order"
            assert event.get_extension("streamname") == "order-1"
            assert event.get_extension("tenantid") == "acme"
            assert str(event.get_extension("streamversion")) == "3"
            assert str(event.get_extension("eventversion")) == "2"
            assert event.get_extension("correlationid") == message.correlation_id
            assert event.get_extension("causationid") == message.causation_id
            assert event.get_extension("traceparent") == TRACEPARENT
            assert event.get_extension("tracestate") == TRACESTATE
            if binary:
                assert got.headers["traceparent"] == TRACEPARENT
                assert got.headers["tracestate"] == TRACESTATE
        else:
            assert event.get_source() == "/eventhex/p%C5%82atno%C5%9Bci%20100%25"
            assert event.get_extension("traceparent") is None
            assert str(event.get_extension("eventversion")) == "1"
            assert "traceparent" not in got.headers
            assert "x-injected" not in got.headers


def _relay(
    quick_relay: Callable[..., Relay], publisher: Publisher
) -> tuple[InMemoryOutboxSource, list[OutboxMessage]]:
    source = InMemoryOutboxSource()
    sent = _enqueue(source)
    report = quick_relay(source, publisher).run(drain=True)
    assert (report.published, report.retried, report.outages) == (2, 0, 0)
    return source, sent


def test_kafka_binary_mode(kafka_server: TansuServer, quick_relay: Callable[..., Relay]) -> None:
    topic = create_topic(kafka_server.bootstrap, partitions=2)
    url = f"{kafka_server.url}?topic={topic}"
    _, sent = _relay(quick_relay, publisher_from_url(url, envelope="cloudevents"))
    received = []
    for record in read_topic(kafka_server.bootstrap, topic):
        assert record.headers["ce_specversion"] == b"1.0"
        assert record.headers["content-type"] == b"application/json"
        message = kafka.KafkaMessage(record.headers, record.key.encode(), record.value)
        event = kafka.from_binary(message, FORMAT)
        assert record.key == event.get_extension("partitionkey")
        headers = {k.lower(): v.decode() for k, v in record.headers.items()}
        received.append(Received(headers, event))
    _check(received, sent, binary=True)


def test_rabbitmq_binary_mode(
    rabbit_server: RabbitServer, quick_relay: Callable[..., Relay]
) -> None:
    exchange = f"ce-{uuid4().hex[:6]}"
    queue = bind_rabbit_queue(rabbit_server.url, exchange)
    url = f"{rabbit_server.url}?exchange={exchange}"
    _, sent = _relay(quick_relay, publisher_from_url(url, envelope="cloudevents"))
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_server.url))
    received = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            headers = {k.lower(): str(v) for k, v in properties.headers.items()}
            assert properties.content_type == "application/json"
            amqp = rabbitmq.RabbitMQMessage(headers, properties.content_type, body)
            received.append(Received(headers, rabbitmq.from_binary(amqp, FORMAT)))
    finally:
        connection.close()
    _check(received, sent, binary=True)


def _read_nats_with_headers(url: str, stream: str) -> list[tuple[dict[str, str], bytes]]:
    async def fetch() -> list[tuple[dict[str, str], bytes]]:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            info = await js.stream_info(stream)
            found = [await js.get_msg(stream, n) for n in range(1, info.state.last_seq + 1)]
            return [(dict(m.headers or {}), m.data or b"") for m in found]
        finally:
            await client.close()

    return asyncio.run(fetch())


def test_nats_binary_mode(nats_server: NatsServer, quick_relay: Callable[..., Relay]) -> None:
    stream = f"CE{uuid4().hex[:6]}"
    url = f"{nats_server.url}?stream={stream}&subject={stream.lower()}"
    _, sent = _relay(quick_relay, publisher_from_url(url, envelope="cloudevents"))
    received = []
    for raw, body in _read_nats_with_headers(nats_server.url, stream):
        headers = {k.lower(): v for k, v in raw.items()}
        assert headers["nats-msg-id"] == headers["ce-id"]
        assert "content-type" not in headers  # NATS: Content-Type would mean structured mode
        assert all(c.isprintable() and not c.isspace() for c in headers["ce-type"])
        as_http = {**headers, "content-type": headers["ce-datacontenttype"]}
        event = http.from_binary(http.HTTPMessage(as_http, body), FORMAT)
        received.append(Received(headers, event))
    _check(received, sent, binary=True)


def test_webhook_binary_mode(webhook: WebhookSink, quick_relay: Callable[..., Relay]) -> None:
    _, sent = _relay(quick_relay, publisher_from_url(webhook.url, envelope="cloudevents"))
    received = []
    for data, raw in zip(webhook.delivered, webhook.headers, strict=True):
        headers = {k.lower(): v for k, v in raw.items()}
        assert "x-eventhex-event-name" not in headers
        request = http.HTTPMessage(headers, json.dumps(data).encode())
        received.append(Received(headers, http.from_binary(request, FORMAT)))
    _check(received, sent, binary=True)


def test_redis_structured_mode(
    redis_server: RedisServer, quick_relay: Callable[..., Relay]
) -> None:
    key = f"ce-{uuid4().hex[:6]}"
    url = f"{redis_server.url}?stream={key}"
    _, sent = _relay(quick_relay, publisher_from_url(url, envelope="cloudevents"))
    client = redis.Redis.from_url(redis_server.url)
    try:
        entries = client.xrange(key)
    finally:
        client.close()
    received = []
    for _, fields in entries:
        assert fields[b"content_type"] == b"application/cloudevents+json"
        event = FORMAT.read(None, fields[b"payload"])
        assert fields[b"event_uuid"].decode() == event.get_id()
        headers = {k.decode(): v.decode() for k, v in fields.items() if k != b"payload"}
        received.append(Received(headers, event))
    _check(received, sent, binary=False)
    traced = next(r for r in received if r.event.get_extension("traceparent"))
    assert traced.headers["traceparent"] == TRACEPARENT  # also as a field of the entry


def test_stdout_structured_mode(quick_relay: Callable[..., Relay]) -> None:
    out = io.StringIO()
    _, sent = _relay(quick_relay, StdoutPublisher(out, envelope="cloudevents"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    _check([Received({}, FORMAT.read(None, line.encode())) for line in lines], sent, binary=False)


@pytest.mark.parametrize("broker", ["kafka", "rabbitmq", "nats", "webhook", "redis"])
def test_the_eventhex_envelope_carries_traceparent_too(
    broker: str, request: pytest.FixtureRequest, quick_relay: Callable[..., Relay]
) -> None:
    """The default envelope keeps its body and adds ``traceparent``/``tracestate`` headers (a
    Redis entry's fields) only for the event whose context has them."""
    headers_of: dict[str, dict[str, str]] = {}
    tag = uuid4().hex[:6]
    if broker == "kafka":
        server: Any = request.getfixturevalue("kafka_server")
        topic = create_topic(server.bootstrap, partitions=1)
        _, sent = _relay(quick_relay, publisher_from_url(f"{server.url}?topic={topic}"))
        for record in read_topic(server.bootstrap, topic):
            headers_of[record.payload["event_uuid"]] = {
                k: v.decode() for k, v in record.headers.items()
            }
    elif broker == "rabbitmq":
        server = request.getfixturevalue("rabbit_server")
        queue = bind_rabbit_queue(server.url, f"tp-{tag}")
        _, sent = _relay(quick_relay, publisher_from_url(f"{server.url}?exchange=tp-{tag}"))
        connection = pika.BlockingConnection(pika.URLParameters(server.url))
        try:
            channel = connection.channel()
            for _ in sent:
                _, properties, body = channel.basic_get(queue, auto_ack=True)
                headers_of[json.loads(body)["event_uuid"]] = properties.headers
        finally:
            connection.close()
    elif broker == "nats":
        server = request.getfixturevalue("nats_server")
        url = f"{server.url}?stream=TP{tag}&subject=tp{tag}"
        _, sent = _relay(quick_relay, publisher_from_url(url))
        for headers, body in _read_nats_with_headers(server.url, f"TP{tag}"):
            headers_of[json.loads(body)["event_uuid"]] = headers
    elif broker == "webhook":
        sink: WebhookSink = request.getfixturevalue("webhook")
        _, sent = _relay(quick_relay, publisher_from_url(sink.url))
        for payload, raw in zip(sink.delivered, sink.headers, strict=True):
            headers_of[payload["event_uuid"]] = {k.lower(): v for k, v in raw.items()}
    else:
        server = request.getfixturevalue("redis_server")
        _, sent = _relay(quick_relay, publisher_from_url(f"{server.url}?stream=tp-{tag}"))
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            for _, fields in client.xrange(f"tp-{tag}"):
                headers_of[fields["event_uuid"]] = fields
        finally:
            client.close()
    traced, plain = (headers_of[str(m.event_uuid)] for m in sent)
    assert (traced["traceparent"], traced["tracestate"]) == (TRACEPARENT, TRACESTATE)
    assert "traceparent" not in plain
    assert "tracestate" not in plain


@pytest.mark.django_db(databases=["default"])
def test_a_trace_follows_an_event_from_its_append_to_kafka(
    kafka_server: TansuServer, quick_relay: Callable[..., Relay]
) -> None:
    """The whole way: an event appended inside an OpenTelemetry span, with python-event-
    sourcery's own OpenTelemetry enricher, through the Django outbox and the relay to Kafka,
    arrives with that span as its ``traceparent``; an event appended outside any span has none."""
    from event_sourcery import StreamId
    from event_sourcery_otel import OpenTelemetryContextEnricher
    from opentelemetry import context, trace

    from eventhex_core_ports.testing.events import ContractItemAdded
    from eventhex_django_adapter import DjangoBackend, DjangoConfig
    from eventhex_django_adapter.relay_source import DjangoOutboxSource

    backend = (
        DjangoBackend()
        .configure(DjangoConfig(database="default"))
        .with_outbox()
        .with_context_enrichers(OpenTelemetryContextEnricher())
    )
    span = trace.SpanContext(
        trace_id=int(TRACEPARENT[3:35], 16),
        span_id=int(TRACEPARENT[36:52], 16),
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        trace_state=trace.TraceState([("vendor", "opaque")]),
    )
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span)))
    try:
        backend.event_store.append(ContractItemAdded(item="traced"), stream_id=StreamId())
    finally:
        context.detach(token)
    backend.event_store.append(ContractItemAdded(item="untraced"), stream_id=StreamId())

    topic = create_topic(kafka_server.bootstrap, partitions=1)
    source = DjangoOutboxSource(database="default")
    try:
        report = quick_relay(source, publisher_from_url(f"{kafka_server.url}?topic={topic}")).run(
            drain=True
        )
    finally:
        source.close()
    assert report.published == 2
    records = read_topic(kafka_server.bootstrap, topic)
    by_item = {r.payload["data"]["item"]: r.headers for r in records}
    assert by_item["traced"]["traceparent"] == TRACEPARENT.encode()
    assert by_item["traced"]["tracestate"] == b"vendor=opaque"
    assert "traceparent" not in by_item["untraced"]
