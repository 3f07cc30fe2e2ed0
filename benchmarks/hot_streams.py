"""One busy stream against many quiet ones (issue 15): the ``hot`` group, and rows of ``relay``
and ``outbox``.

The same 10,000 outbox entries are drained three ways in one run: spread over 2,000 streams
(five each: the many-streams rate), over 10 streams of 1,000 and on one stream. For the relay,
one relay process drains them through the Django source on PostgreSQL to each publisher, and the
broker's copy is read back to check every stream's order (the no-op publisher keeps nothing).
For ``Outbox.run``, the ``outbox_*_streams`` scenarios (``scenarios.outbox_streams``) check the
order of what they publish. Done when one stream drains at >= 0.5x the many-streams rate.

``relay`` runs the no-op publisher and Redis; ``hot`` runs every publisher: RabbitMQ and NATS
from the test suite's broker helpers, a webhook endpoint in this process (the test suite's sink,
an ``http.server``), standard output to a file, Kafka on Tansu (read back with the test suite's
reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import relay
from benchmarks._bench import Bench, Row
from benchmarks.comparisons import comparison

MESSAGES = 10_000
SHAPES: tuple[tuple[str, Callable[[int], int]], ...] = (
    ("many_streams", lambda messages: max(1, messages // 5)),
    ("ten_streams", lambda messages: 10),
    ("one_stream", lambda messages: 1),
)
"""(name, streams for a number of messages): 2,000 streams of five, 10 of 1,000, one."""

Received = Callable[[], list[tuple[str, int]]]
"""What a broker received: (stream uuid, version) per message, in the broker's order."""


def relay_rows(bench: Bench, publishers: tuple[str, ...] = ("null", "redis")) -> list[Row]:
    """The three shapes through one relay process to each of ``publishers``."""
    messages = bench.size(MESSAGES)
    mode = bench.options.mode
    lines, rows = [], []
    with bench.postgres_database("hot") as dsn:
        relay._migrate(dsn, mode.name)
        for publisher in publishers:
            rates = []
            for shape, streams in SHAPES:
                with _broker(publisher) as (url, received):
                    relay.fill(dsn, messages, streams(messages), mode.analyze)
                    rate, published, _ = relay.drain(dsn, mode.name, url, 1, relay.BATCH)
                    assert published == messages, (publisher, shape, published)
                    if received is not None:
                        _assert_in_stream_order(received(), messages)
                rates.append(rate)
                rows.append(_row(f"relay_hot_{publisher}_{shape}", messages, rate, mode.name))
            lines.append(_line(f"relay, {publisher}", rates))
            print("    " + lines[-1], flush=True)
    return [_section("Hot streams: one relay process", lines), *rows]


def outbox_rows(bench: Bench) -> list[Row]:
    """The three shapes through eventhex's ``Outbox.run``, and the ratio of their rates."""
    scenarios = [(f"outbox_{shape}", MESSAGES, 1) for shape, _ in SHAPES]
    rows = comparison(scenarios, contenders=("eventhex",))(bench)
    lines = []
    for db in bench.dbs:
        rates = [r.get("value", 0.0) for r in rows if r["db"] == db]
        if len(rates) == len(SHAPES):
            lines.append(_line(f"Outbox.run, {db}", rates))
    return [_section("Hot streams: Outbox.run", lines), *rows]


def run(bench: Bench) -> list[Row]:
    """Every publisher, then ``Outbox.run``."""
    publishers = ("null", "redis", "rabbitmq", "nats", "webhook", "stdout", "kafka")
    return relay_rows(bench, publishers) + outbox_rows(bench)


def _line(name: str, rates: list[float]) -> str:
    many, ten, one = rates
    return (
        f"{name:<24} {many:>9,.0f} {ten:>9,.0f} {one:>9,.0f} msg/s   "
        f"one/many {one / many:.2f}x, ten/many {ten / many:.2f}x"
    )


def _section(title: str, lines: list[str]) -> Row:
    header = f"{'':<24} {'many':>9} {'ten':>9} {'one':>9}  (streams of 5, 1,000, 10,000)"
    return {"kind": "section", "title": title, "text": "\n".join([header, *lines])}


def _row(scenario: str, messages: int, rate: float, mode: str) -> Row:
    return relay._row(scenario, messages, rate, mode) | {"source": "hot_streams.py"}


def _assert_in_stream_order(received: list[tuple[str, int]], messages: int) -> None:
    versions: dict[str, list[int]] = {}
    for stream, version in received:
        versions.setdefault(stream, []).append(version)
    assert sum(map(len, versions.values())) == messages, "lost or duplicated messages"
    for got in versions.values():
        assert got == list(range(1, len(got) + 1)), "a stream's order was broken"


@contextlib.contextmanager
def _broker(name: str) -> Iterator[tuple[str, Received | None]]:
    """A fresh destination of publisher ``name``: its URL and how to read it back."""
    tag = uuid.uuid4().hex[:8]
    if name == "null":
        yield "null:", None
    elif name == "redis":
        redis_server = relay.Redis()
        try:
            yield f"redis://127.0.0.1:{redis_server.port}/0?stream=hot", _redis(redis_server.port)
        finally:
            redis_server.close()
    elif name == "kafka":
        kafka = relay.Kafka(topic=f"hot{tag}")
        try:
            yield f"kafka://127.0.0.1:{kafka.port}?topic=hot{tag}", _kafka(kafka.port, f"hot{tag}")
        finally:
            kafka.close()
    elif name == "stdout":
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "out.jsonl"
            yield f"stdout:{path}", lambda: _pairs(json.loads(line) for line in path.open())
    else:
        yield from _test_broker(name, tag)


def _test_broker(name: str, tag: str) -> Iterator[tuple[str, Received | None]]:
    from tests.outbox_relay import _servers
    from tests.outbox_relay._webhook_sink import WebhookSink

    if name == "webhook":
        sink = WebhookSink()
        try:
            yield sink.url, lambda: _pairs(sink.delivered)
        finally:
            sink.close()
        return
    server = _servers.RabbitServer() if name == "rabbitmq" else _servers.NatsServer()
    server.start()
    try:
        if name == "rabbitmq":
            queue = _rabbit_queue(server.url, f"hot{tag}")
            yield f"{server.url}?exchange=hot{tag}", lambda: _rabbit(server.url, queue)
        else:
            url = f"{server.url}?stream=HOT{tag}&subject=hot{tag}"
            yield url, lambda: _nats(server.url, f"HOT{tag}", f"hot{tag}")
    finally:
        server.close()


def _pairs(payloads: Any) -> list[tuple[str, int]]:
    return [(p["stream_uuid"], p["version"]) for p in payloads]


def _redis(port: int) -> Received:
    def read() -> list[tuple[str, int]]:
        import redis

        client = redis.Redis(port=port)
        entries = client.xrange("hot")
        client.close()
        return _pairs(json.loads(fields[b"payload"]) for _, fields in entries)

    return read


def _kafka(port: int, topic: str) -> Received:
    def read() -> list[tuple[str, int]]:
        from tests.outbox_relay._kafka import read_topic

        return _pairs(record.payload for record in read_topic(f"127.0.0.1:{port}", topic))

    return read


def _rabbit_queue(url: str, exchange: str) -> str:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    channel.queue_declare(exchange, durable=True)
    channel.queue_bind(exchange, exchange, routing_key="#")
    connection.close()
    return exchange


def _rabbit(url: str, queue: str) -> list[tuple[str, int]]:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    payloads = []
    for _, _, body in channel.consume(queue, auto_ack=True, inactivity_timeout=2):
        if body is None:  # two seconds without a message: all were read
            break
        payloads.append(json.loads(body))
    channel.cancel()
    connection.close()
    return _pairs(payloads)


def _nats(url: str, stream: str, subject: str) -> list[tuple[str, int]]:
    async def fetch() -> list[tuple[str, int]]:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        client = await nats.connect(url)
        js = client.jetstream()
        unacked = ConsumerConfig(ack_policy=AckPolicy.NONE)  # no limit of pending acks
        subscription = await js.pull_subscribe(f"{subject}.>", stream=stream, config=unacked)
        payloads = []
        while True:
            try:
                messages = await subscription.fetch(1000, timeout=2)
            except Exception:  # nats.errors.TimeoutError: nothing left
                break
            payloads += [json.loads(m.data) for m in messages]
        await client.close()
        return _pairs(payloads)

    return asyncio.run(fetch())
