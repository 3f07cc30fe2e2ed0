"""Fixtures of the relay tests: real brokers, a webhook sink, outboxes filled with streams."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from eventhex_core_ports._internal.logs import LOGGERS
from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxSource, Publisher
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay._backoff import Backoff
from tests.outbox_relay._servers import NatsServer, RabbitServer, RedisServer, TansuServer
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.reliability._report import ReliabilityReport, report

ServerT = TypeVar("ServerT", RedisServer, NatsServer, RabbitServer, TansuServer)


def _serve(server: ServerT) -> Iterator[ServerT]:
    """Start ``server`` for the session and close it at the end, even if start-up failed."""
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _serve(RedisServer())


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    yield from _serve(NatsServer())


@pytest.fixture(scope="session")
def rabbit_server() -> Iterator[RabbitServer]:
    yield from _serve(RabbitServer())


@pytest.fixture(scope="session")
def kafka_server() -> Iterator[TansuServer]:
    yield from _serve(TansuServer())


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main()`` configures eventhex's loggers for its process; give later tests theirs back."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(level)


@pytest.fixture
def reliability() -> ReliabilityReport:
    """The session's reliability report: the relay's hostile-input and resource tests count
    there (it is printed when ``tests/reliability`` runs in the same session)."""
    return report


@pytest.fixture
def memory_source() -> InMemoryOutboxSource:
    return InMemoryOutboxSource()


def fill(
    source: InMemoryOutboxSource,
    streams: int,
    per_stream: int,
    order: dict[UUID, list[str]] | None = None,
) -> dict[UUID, list[str]]:
    """Enqueue ``per_stream`` events on each of ``streams`` new streams (or on the streams of
    ``order``, continuing them), interleaved.

    Returns:
        Each stream's event uuids in append order.
    """
    order = order if order is not None else {uuid4(): [] for _ in range(streams)}
    for _ in range(per_stream):
        for stream in order:
            version = len(order[stream]) + 1
            message = source.enqueue(
                stream_uuid=stream, stream_category="order", version=version, data={"n": version}
            )
            order[stream].append(str(message.event_uuid))
    return order


def assert_delivered_in_stream_order(
    expected: dict[UUID, list[str]], payloads: Sequence[dict[str, Any]], *, exactly_once: bool
) -> None:
    """Every expected event arrived, each stream's events in append order."""
    seen: dict[str, list[str]] = {}
    for payload in payloads:
        seen.setdefault(payload["stream_uuid"], []).append(payload["event_uuid"])
    for stream, events in expected.items():
        got = seen.get(str(stream), [])
        if exactly_once:
            assert got == events
        else:  # at least once: drop re-deliveries, keep first arrivals
            firsts = list(dict.fromkeys(got))
            assert firsts == events


@pytest.fixture
def quick_relay() -> Iterator[Callable[..., Relay]]:
    """Builds relays with short waits; closes their publishers after the test."""
    relays: list[Relay] = []

    def build(source: OutboxSource, publisher: Publisher, **options: Any) -> Relay:
        options.setdefault("batch_size", 50)
        options.setdefault("poll_interval", 0.02)
        options.setdefault("backoff", Backoff(base=0.02, maximum=0.1))
        relay = Relay(source, publisher, owner=options.pop("owner", "test-relay"), **options)
        relays.append(relay)
        return relay

    yield build
    for relay in relays:
        relay.publisher.close()
