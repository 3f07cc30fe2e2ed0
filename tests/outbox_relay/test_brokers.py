"""Delivery to real Redis, RabbitMQ and NATS JetStream servers that the session starts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import nats
import pika
import pytest
import redis

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers import publisher_from_url
from tests.outbox_relay._servers import NatsServer, RabbitServer, RedisServer, Server
from tests.outbox_relay.conftest import (
    assert_delivered_in_stream_order,
    fill,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def read_redis(url: str, stream: str) -> list[dict[str, Any]]:
    client = redis.Redis.from_url(url)
    try:
        entries = client.xrange(stream)
    finally:
        client.close()
    return [json.loads(fields[b"payload"]) for _, fields in entries]


def read_nats(url: str, stream: str) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            info = await js.stream_info(stream)
            messages = [await js.get_msg(stream, seq) for seq in range(1, info.state.last_seq + 1)]
            return [json.loads(m.data or b"") for m in messages]
        finally:
            await client.close()

    return asyncio.run(fetch())


def bind_rabbit_queue(url: str, exchange: str) -> str:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        queue = f"q-{uuid4().hex[:8]}"
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, exchange, routing_key="#")
        return queue
    finally:
        connection.close()


def read_rabbit(url: str, queue: str) -> list[dict[str, Any]]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    payloads: list[dict[str, Any]] = []
    try:
        channel = connection.channel()
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return payloads
            payload = json.loads(body)
            assert properties.message_id == payload["event_uuid"]
            assert method.routing_key == payload["partition_key"]
            payloads.append(payload)
    finally:
        connection.close()


def test_redis_streams_delivery_and_order(
    redis_server: RedisServer, quick_relay: Callable[..., Relay]
) -> None:
    source = InMemoryOutboxSource()
    expected = fill(source, streams=10, per_stream=5)
    key = f"events-{uuid4().hex[:6]}"
    report = quick_relay(source, publisher_from_url(f"{redis_server.url}?stream={key}")).run(
        drain=True
    )
    assert report.published == 50
    assert_delivered_in_stream_order(expected, read_redis(redis_server.url, key), exactly_once=True)


def test_redis_default_stream_key_is_eventhex(
    redis_server: RedisServer, quick_relay: Callable[..., Relay]
) -> None:
    source = InMemoryOutboxSource()
    message = source.enqueue()
    quick_relay(source, publisher_from_url(redis_server.url)).run(drain=True)
    assert str(message.event_uuid) in [
        p["event_uuid"] for p in read_redis(redis_server.url, "eventhex")
    ]


def test_rabbitmq_delivery_with_confirms_and_order(
    rabbit_server: RabbitServer, quick_relay: Callable[..., Relay]
) -> None:
    exchange = f"ex-{uuid4().hex[:6]}"
    queue = bind_rabbit_queue(rabbit_server.url, exchange)
    source = InMemoryOutboxSource()
    expected = fill(source, streams=10, per_stream=5)
    url = f"{rabbit_server.url}?exchange={exchange}"
    report = quick_relay(source, publisher_from_url(url)).run(drain=True)
    assert report.published == 50
    assert_delivered_in_stream_order(
        expected, read_rabbit(rabbit_server.url, queue), exactly_once=True
    )


def test_nats_jetstream_delivery_with_acks_and_order(
    nats_server: NatsServer, quick_relay: Callable[..., Relay]
) -> None:
    stream = f"S{uuid4().hex[:6]}"
    source = InMemoryOutboxSource()
    expected = fill(source, streams=10, per_stream=5)
    url = f"{nats_server.url}?stream={stream}&subject={stream.lower()}"
    report = quick_relay(source, publisher_from_url(url)).run(drain=True)
    assert report.published == 50
    assert_delivered_in_stream_order(
        expected, read_nats(nats_server.url, stream), exactly_once=True
    )


def _relay_through_restart(
    server: Server,
    url: str,
    read: Callable[[], list[dict[str, Any]]],
    quick_relay: Callable[..., Relay],
) -> None:
    """Relay 200 entries while ``server`` is stopped after the first 60 and started again on
    the same port and data; every entry must reach ``read()`` in stream order, none dead."""
    source = InMemoryOutboxSource()
    expected = fill(source, streams=20, per_stream=3)
    relay = quick_relay(source, publisher_from_url(url, timeout=2), batch_size=5)
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_for(lambda: relay.report.published == 60)
        server.stop()
        fill(source, streams=0, per_stream=7, order=expected)
        wait_for(lambda: relay.report.outages >= 2)  # it notices, backs off, keeps its entries
        server.start()
        wait_for(lambda: relay.report.published >= 200)
    finally:
        relay.stop()
        thread.join(timeout=30)
    assert relay.report.dead_lettered == 0
    assert source.stats().pending == 0
    assert_delivered_in_stream_order(expected, read(), exactly_once=False)


def test_redis_stopped_and_restarted_loses_nothing(quick_relay: Callable[..., Relay]) -> None:
    server = RedisServer(durable=True)
    try:
        server.start()
        key = "restart"
        _relay_through_restart(
            server, f"{server.url}?stream={key}", lambda: read_redis(server.url, key), quick_relay
        )
    finally:
        server.close()


def test_an_idle_relay_keeps_its_nats_connection(quick_relay: Callable[..., Relay]) -> None:
    """The server pings every second and drops a client after one unanswered ping; the relay
    answers through ``Publisher.keep_alive`` while idle, so its next batch needs no reconnect
    (without it, that batch waited out the acknowledgement timeout and counted an outage)."""
    server = NatsServer(ping_interval="1s")
    try:
        server.start()
        source = InMemoryOutboxSource()
        expected = fill(source, streams=5, per_stream=1)
        url = f"{server.url}?stream=IDLE&subject=idle"
        relay = quick_relay(source, publisher_from_url(url, timeout=2))
        thread = threading.Thread(target=relay.run)
        thread.start()
        try:
            wait_for(lambda: relay.report.published == 5)
            time.sleep(4)  # four ping intervals without a batch
            fill(source, streams=0, per_stream=1, order=expected)
            wait_for(lambda: relay.report.published == 10)
        finally:
            relay.stop()
            thread.join(timeout=30)
        assert relay.report.outages == 0
        assert_delivered_in_stream_order(expected, read_nats(server.url, "IDLE"), exactly_once=True)
    finally:
        server.close()


def test_nats_stopped_and_restarted_loses_nothing(quick_relay: Callable[..., Relay]) -> None:
    server = NatsServer()
    try:
        server.start()
        url = f"{server.url}?stream=RESTART&subject=restart"
        _relay_through_restart(server, url, lambda: read_nats(server.url, "RESTART"), quick_relay)
    finally:
        server.close()


def test_rabbitmq_stopped_and_restarted_loses_nothing(quick_relay: Callable[..., Relay]) -> None:
    server = RabbitServer()
    try:
        server.start()
        exchange = "restart"
        queue = bind_rabbit_queue(server.url, exchange)  # durable: outlives the restart
        _relay_through_restart(
            server,
            f"{server.url}?exchange={exchange}",
            lambda: read_rabbit(server.url, queue),
            quick_relay,
        )
    finally:
        server.close()
