"""The Kafka publisher against a real Kafka-protocol broker (Tansu) that the session starts:
delivery reports, order per stream across partitions, a failed entry holding back the rest of
its stream, topic templates, and a broker that goes away and comes back."""

from __future__ import annotations

import string
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.ports.relay import OutboxMessage
from eventhex_outbox_relay import Relay
from eventhex_outbox_relay.publishers import publisher_from_url
from eventhex_outbox_relay.publishers.kafka import KafkaPublisher
from tests.outbox_relay._kafka import Record, create_topic, read_topic, topics
from tests.outbox_relay._servers import TansuServer
from tests.outbox_relay.conftest import assert_delivered_in_stream_order, fill
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def _by_stream(records: list[Record]) -> dict[str, list[Record]]:
    streams: dict[str, list[Record]] = {}
    for record in records:
        streams.setdefault(record.payload["stream_uuid"], []).append(record)
    return streams


def test_delivery_with_reports_keys_and_headers(
    kafka_server: TansuServer, quick_relay: Callable[..., Relay]
) -> None:
    topic = create_topic(kafka_server.bootstrap, partitions=4)
    source = InMemoryOutboxSource()
    expected = fill(source, streams=12, per_stream=5)
    publisher = publisher_from_url(f"{kafka_server.url}?topic={topic}")
    report = quick_relay(source, publisher).run(drain=True)
    assert (report.published, report.retried, report.outages) == (60, 0, 0)
    records = read_topic(kafka_server.bootstrap, topic)
    assert_delivered_in_stream_order(expected, [r.payload for r in records], exactly_once=True)
    for record in records:
        payload = record.payload
        assert record.key == payload["partition_key"]
        assert record.headers["event_uuid"] == payload["event_uuid"].encode()
        assert record.headers["event_name"] == payload["event_name"].encode()
        assert record.headers["partition_key"] == payload["partition_key"].encode()
        assert record.headers["content-type"] == b"application/json"
        assert "traceparent" not in record.headers  # these events carry no trace context
    partitions_of = {s: {r.partition for r in rs} for s, rs in _by_stream(records).items()}
    assert all(len(p) == 1 for p in partitions_of.values())  # a stream stays in one partition
    assert len(set().union(*partitions_of.values())) > 1  # and the streams spread out


def _message(stream: UUID, version: int, entry_id: int, data: dict[str, object]) -> OutboxMessage:
    return OutboxMessage(
        entry_id=entry_id,
        event_uuid=uuid4(),
        event_name="Counted",
        stream_uuid=stream,
        stream_name=None,
        stream_category="counter",
        tenant_id="",
        version=version,
        position=entry_id,
        created_at=datetime.now(UTC),
        data=data,
        context={},
    )


def test_many_entries_of_a_stream_in_one_batch_keep_their_order(
    kafka_server: TansuServer,
) -> None:
    """The hot-stream case: a batch holding 300 consecutive entries of each of 4 streams,
    interleaved, reaches a 3-partition topic with every stream in version order."""
    topic = create_topic(kafka_server.bootstrap, partitions=3)
    streams = [uuid4() for _ in range(4)]
    batch = [
        _message(stream, version, 1 + 4 * (version - 1) + n, {"n": version})
        for version in range(1, 301)
        for n, stream in enumerate(streams)
    ]
    publisher = KafkaPublisher(f"{kafka_server.url}?topic={topic}")
    try:
        outcomes = publisher.publish(batch)
    finally:
        publisher.close()
    assert [o.entry_id for o in outcomes] == [m.entry_id for m in batch]
    assert all(o.delivered for o in outcomes)
    by_stream = _by_stream(read_topic(kafka_server.bootstrap, topic))
    assert sorted(by_stream) == sorted(str(s) for s in streams)
    for records in by_stream.values():
        assert [r.payload["version"] for r in records] == list(range(1, 301))


def test_a_failed_entry_holds_back_the_rest_of_its_stream(kafka_server: TansuServer) -> None:
    """Entry 3 of stream A is over the producer's message size: it fails (an attempt), entries
    4 and 5 of A are not produced and not charged, and stream B is delivered whole."""
    topic = create_topic(kafka_server.bootstrap, partitions=2)
    a, b = uuid4(), uuid4()
    batch = []
    for version in range(1, 6):
        blob = "x" * 20_000 if version == 3 else "small"
        batch.append(_message(a, version, 2 * version - 1, {"blob": blob}))
        batch.append(_message(b, version, 2 * version, {"blob": "small"}))
    publisher = KafkaPublisher(f"{kafka_server.url}?topic={topic}&message.max.bytes=10000")
    try:
        outcomes = {o.entry_id: o for o in publisher.publish(batch)}
        again = publisher.publish([_message(uuid4(), 1, 99, {})])  # the producer still works
    finally:
        publisher.close()
    assert [outcomes[i].delivered for i in (1, 3)] == [True, True]
    failed = outcomes[5]
    assert (failed.delivered, failed.attempted) == (False, True)
    assert "MSG_SIZE_TOO_LARGE" in failed.error or "too large" in failed.error
    for held in (7, 9):
        assert (outcomes[held].delivered, outcomes[held].attempted) == (False, False)
    assert all(outcomes[i].delivered for i in (2, 4, 6, 8, 10))
    assert again[0].delivered
    by_stream = _by_stream(read_topic(kafka_server.bootstrap, topic))
    assert [r.payload["version"] for r in by_stream[str(a)]] == [1, 2]
    assert [r.payload["version"] for r in by_stream[str(b)]] == [1, 2, 3, 4, 5]


def test_an_oversize_message_fails_alone_through_the_relay(
    kafka_server: TansuServer, quick_relay: Callable[..., Relay]
) -> None:
    """Through the relay: the over-size entry loses one attempt and waits for its retry; the
    rest of the batch is delivered, with no outage."""
    topic = create_topic(kafka_server.bootstrap, partitions=2)
    source = InMemoryOutboxSource()
    big = source.enqueue(data={"blob": "x" * 20_000}, max_attempts=5)
    plain = [source.enqueue() for _ in range(3)]
    url = f"{kafka_server.url}?topic={topic}&message.max.bytes=10000"
    relay = quick_relay(source, publisher_from_url(url))
    relay.step()
    assert (relay.report.published, relay.report.retried, relay.report.outages) == (3, 1, 0)
    waiting = source.peek(big.entry_id)
    assert waiting is not None
    assert waiting.attempts == 1
    delivered = {r.payload["event_uuid"] for r in read_topic(kafka_server.bootstrap, topic)}
    assert delivered == {str(m.event_uuid) for m in plain}


def test_topic_template_routes_by_category_with_legal_names(
    kafka_server: TansuServer, quick_relay: Callable[..., Relay]
) -> None:
    prefix = f"tpl{uuid4().hex[:6]}"
    source = InMemoryOutboxSource()
    categories = ["order", "płatności", "a b", "a_b", ""]
    sent = {c: source.enqueue(stream_category=c, tenant_id="acme") for c in categories}
    url = f"{kafka_server.url}?topic={prefix}.{{tenant}}.{{category}}"
    report = quick_relay(source, publisher_from_url(url)).run(drain=True)
    assert report.published == len(categories)
    ours = sorted(t for t in topics(kafka_server.bootstrap) if t.startswith(prefix))
    assert len(ours) == len(categories)  # "a b" and "a_b" stay apart
    legal = set(string.ascii_letters + string.digits + "._-")
    assert all(set(t) <= legal and len(t) <= 249 for t in ours)
    assert f"{prefix}.acme.order" in ours
    assert f"{prefix}.acme.a_b" in ours
    assert f"{prefix}.acme._" in ours  # no category
    found = {}
    for topic in ours:
        [record] = read_topic(kafka_server.bootstrap, topic)
        found[record.payload["stream_category"]] = topic
    assert sorted(found) == sorted(categories)
    assert found["płatności"].startswith(f"{prefix}.acme.p_atno_ci-")
    read = {r.payload["event_uuid"] for t in ours for r in read_topic(kafka_server.bootstrap, t)}
    assert read == {str(m.event_uuid) for m in sent.values()}


def test_broker_down_is_an_outage_and_back_resumes(quick_relay: Callable[..., Relay]) -> None:
    """60 entries go out; the broker stops; 140 more wait, uncharged, through several outages;
    the broker comes back (empty: Tansu keeps its data in memory) and all 140 arrive, every
    stream in order, nothing dead-lettered."""
    server = TansuServer()
    try:
        server.start()
        topic = create_topic(server.bootstrap, partitions=3, name="restart")
        source = InMemoryOutboxSource()
        expected = fill(source, streams=20, per_stream=3)
        relay = quick_relay(source, publisher_from_url(f"{server.url}?topic={topic}", timeout=2))
        thread = threading.Thread(target=relay.run)
        thread.start()
        try:
            wait_for(lambda: relay.report.published == 60)
            before = read_topic(server.bootstrap, topic)  # the relay is idle: nothing is pending
            server.stop()
            waiting = [
                source.enqueue(stream_uuid=stream, stream_category="order")
                for _ in range(7)
                for stream in expected
            ]
            for message in waiting:
                expected[message.stream_uuid].append(str(message.event_uuid))
            wait_for(lambda: relay.report.outages >= 2, seconds=60)
            stats = source.stats()
            assert (stats.pending + stats.in_flight, stats.dead) == (140, 0)
            assert {getattr(source.peek(m.entry_id), "attempts", None) for m in waiting} == {0}
            server.start()
            create_topic(server.bootstrap, partitions=3, name=topic, exist_ok=True)
            wait_for(lambda: relay.report.published >= 200, seconds=60)
        finally:
            relay.stop()
            thread.join(timeout=30)
        assert (relay.report.retried, relay.report.dead_lettered) == (0, 0)
        assert source.stats().pending == 0
        after = read_topic(server.bootstrap, topic)
        assert len(before) == 60
        assert_delivered_in_stream_order(
            expected, [r.payload for r in before + after], exactly_once=False
        )
    finally:
        server.close()
