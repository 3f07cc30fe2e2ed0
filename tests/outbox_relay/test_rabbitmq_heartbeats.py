"""Idle relays and RabbitMQ heartbeats: the connection is kept, or replaced without an outage.

pika's blocking connection answers heartbeats only while it does I/O. The relay calls the
publisher's ``keep_alive`` while it waits for entries, which answers them; a relay that could not
(stuck elsewhere, or a broker that dropped it anyway) finds the closed connection before its next
batch and opens a new one without counting an outage. The tests negotiate a one-second heartbeat
through the publisher URL and read the broker's own log to see whether it dropped the client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers.rabbitmq import RabbitMQPublisher
from tests.outbox_relay._servers import RabbitServer, free_port
from tests.outbox_relay.conftest import assert_delivered_in_stream_order, fill
from tests.outbox_relay.test_brokers import bind_rabbit_queue, read_rabbit
from tests.waiting import wait_for

pytestmark = pytest.mark.broker

_BROKER_DROPPED_IDLE_CLIENT = "missed heartbeats from client"


class _NoKeepAlive(RabbitMQPublisher):
    """Skips the idle keep-alive, as a relay busy elsewhere would: the broker drops it."""

    def keep_alive(self) -> None:
        return None


class _BlindToIdleDrops(_NoKeepAlive):
    """Also takes its kept connection on trust before a batch, as when the broker closes it just
    after the publisher looked: the batch's first publish is what finds it closed."""

    def _kept_channel(self) -> Any:
        return self._channel


def _dropped_connections(server: RabbitServer) -> int:
    return server.log.read_text(errors="replace").count(_BROKER_DROPPED_IDLE_CLIENT)


def _relay_across_idle_drop(
    server: RabbitServer,
    publisher: RabbitMQPublisher,
    exchange: str,
    quick_relay: Callable[..., Relay],
) -> Relay:
    """Relay a first batch, idle until the broker drops the connection, relay a second batch;
    every message must arrive once, in stream order."""
    queue = bind_rabbit_queue(server.url, exchange)
    dropped_before = _dropped_connections(server)
    source = InMemoryOutboxSource()
    expected = fill(source, streams=5, per_stream=1)
    relay = quick_relay(source, publisher)
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_for(lambda: relay.report.published == 5)
        wait_for(lambda: _dropped_connections(server) > dropped_before)
        fill(source, streams=0, per_stream=1, order=expected)
        wait_for(lambda: relay.report.published == 10)
    finally:
        relay.stop()
        thread.join(timeout=30)
    assert source.stats().pending == 0
    assert_delivered_in_stream_order(expected, read_rabbit(server.url, queue), exactly_once=True)
    return relay


@pytest.mark.parametrize(
    ("publisher_class", "logged"),
    [(_NoKeepAlive, "closed while idle"), (_BlindToIdleDrops, "lost before the batch")],
    ids=["found-before-the-batch", "found-on-the-first-publish"],
)
def test_a_connection_the_broker_dropped_while_idle_is_replaced_without_an_outage(
    rabbit_server: RabbitServer,
    quick_relay: Callable[..., Relay],
    caplog: pytest.LogCaptureFixture,
    publisher_class: type[RabbitMQPublisher],
    logged: str,
) -> None:
    caplog.set_level(logging.INFO, logger="eventhex.relay.rabbitmq")
    exchange = f"ex-{uuid4().hex[:6]}"
    publisher = publisher_class(f"{rabbit_server.url}?exchange={exchange}&heartbeat=1")
    relay = _relay_across_idle_drop(rabbit_server, publisher, exchange, quick_relay)
    assert relay.report.outages == 0
    assert relay.report.retried == 0
    assert logged in caplog.text


def test_an_idle_relay_keeps_its_connection(
    rabbit_server: RabbitServer,
    quick_relay: Callable[..., Relay],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="eventhex.relay.rabbitmq")
    exchange = f"ex-{uuid4().hex[:6]}"
    queue = bind_rabbit_queue(rabbit_server.url, exchange)
    dropped_before = _dropped_connections(rabbit_server)
    publisher = RabbitMQPublisher(f"{rabbit_server.url}?exchange={exchange}&heartbeat=1")
    source = InMemoryOutboxSource()
    expected = fill(source, streams=5, per_stream=1)
    relay = quick_relay(source, publisher)
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_for(lambda: relay.report.published == 5)
        kept = publisher._connection
        time.sleep(4)  # four heartbeat intervals: twice what the broker waits before dropping
        fill(source, streams=0, per_stream=1, order=expected)
        wait_for(lambda: relay.report.published == 10)
    finally:
        relay.stop()
        thread.join(timeout=30)
    assert _dropped_connections(rabbit_server) == dropped_before
    assert publisher._connection is kept
    assert relay.report.outages == 0
    assert "reconnecting" not in caplog.text
    assert_delivered_in_stream_order(
        expected, read_rabbit(rabbit_server.url, queue), exactly_once=True
    )


def test_a_new_connection_that_fails_is_an_outage(quick_relay: Callable[..., Relay]) -> None:
    source = InMemoryOutboxSource()
    source.enqueue()
    nothing_listens = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    relay = quick_relay(source, RabbitMQPublisher(nothing_listens, timeout=1))
    assert relay.step() == 1
    assert relay.report.outages == 1
    assert relay.report.published == 0
    assert source.stats().pending == 1
