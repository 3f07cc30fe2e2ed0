"""Kafka through an idempotent ``confluent-kafka`` producer: each message counts as delivered
only after its delivery report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode, failure, wants_cloudevents
from eventhex_outbox_relay.publishers._names import TopicTemplate
from eventhex_outbox_relay.publishers._order import StreamStops
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import kafka_options

__all__ = ["KafkaPublisher"]

logger = logging.getLogger("eventhex.relay.kafka")
client_logger = logging.getLogger("eventhex.relay.kafka.client")

_UNREACHED = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TIMED_OUT_QUEUE,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
        KafkaError._DESTROY,
        KafkaError._FATAL,
        KafkaError._QUEUE_FULL,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    }
)
"""Delivery errors that say the cluster was not reached or could not take the message now:
an outage (no attempt charged), not a fault of the message."""

_REPORT_GRACE = 5.0
"""Seconds to wait for delivery reports beyond the message timeout, which bounds them."""


def _unreached(error: KafkaError) -> bool:
    return error.code() in _UNREACHED or error.fatal()


class KafkaPublisher(Publisher):
    """Produces each message to its topic, keyed by its stream, and waits for every report.

    The producer is idempotent (``enable.idempotence``, ``acks=all``, at most 5 requests in
    flight per connection), so retries inside the client neither duplicate nor reorder the
    messages of a partition, and the key (the partition key ``tenant:category:stream-uuid``,
    hashed with murmur2 like the Java client) keeps every stream in one partition: a stream's
    messages reach the topic in the order of the batch. A message counts as delivered only when
    its delivery report arrives without error. Once a message of a stream fails before it was
    produced, the later ones of that stream in the batch are not produced (reported not
    attempted); one already produced behind a refused one is reported as the cluster answered,
    and the relay, which keeps each stream's order, acknowledges none of them.

    Headers: ``event_uuid``, ``event_name``, ``event_version``, ``partition_key`` and
    ``content-type`` (``application/json``); ``traceparent`` and ``tracestate`` when the event
    carries a trace context. With the CloudEvents envelope the value is the event's data and
    the attributes travel as ``ce_<attribute>`` headers (Kafka binary content mode).

    A report that says the cluster was not reached (the message timed out, the broker is down,
    no leader, not enough replicas) makes the whole batch an outage: what was delivered in
    stream order is acknowledged, the rest is released without charging an attempt, and the
    producer is replaced, so the next batch starts with a fresh producer id and connections.

    Args:
        url: ``kafka://host:9092[,host2:9092]?topic=NAME``; the topic may be a template with
            ``{category}`` and ``{tenant}``, rendered so that two (tenant, category) pairs never
            share a topic (see :class:`~eventhex_outbox_relay.publishers._names.TopicTemplate`);
            other query parameters are librdkafka producer settings.
        timeout: Seconds a message may take to be delivered (``message.timeout.ms``).
        envelope: ``eventhex`` or ``cloudevents``.

    Raises:
        ValueError: A bad URL or a producer setting librdkafka refuses.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, envelope: str = "eventhex") -> None:
        options = kafka_options(url)
        self._template = TopicTemplate(options.topic)
        self._fixed_topic = not self._template.fields
        self._cloudevents = wants_cloudevents(envelope)
        self._timeout = timeout
        timeout_ms = max(1, round(timeout * 1000))
        self._config: dict[str, Any] = {
            "client.id": "eventhex-relay",
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "log.connection.close": False,  # brokers close idle connections; that is no error
            **options.config,
            "bootstrap.servers": options.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "max.in.flight.requests.per.connection": 5,
            "message.timeout.ms": timeout_ms,
            # a missing topic fails its messages (a fault of theirs) before they time out
            "topic.metadata.propagation.max.ms": max(1, min(30_000, timeout_ms // 2)),
            "error_cb": self._on_error,
            "logger": _ClientLog(),
        }
        self._topics: dict[tuple[str, str], str] = {}
        self._stale = False
        self._last_error: int | None = None
        self._producer: Producer | None = self._new_producer()

    def _new_producer(self) -> Producer:
        try:
            return Producer(self._config)
        except KafkaException as error:
            raise ValueError(f"Kafka producer settings: {error.args[0].str()}") from None

    def _on_error(self, error: KafkaError) -> None:
        """Client errors (librdkafka retries on its own): a warning once per kind of trouble,
        not once per reconnection attempt."""
        if error.code() == KafkaError._ALL_BROKERS_DOWN or error.fatal():
            self._stale = True  # the next batch starts over with a new producer
        level = logging.DEBUG if error.code() == self._last_error else logging.WARNING
        self._last_error = error.code()
        logger.log(level, "kafka client: %s", error.str())

    def topic_for(self, message: OutboxMessage) -> str:
        """The topic of ``message``: the URL's topic, or its template rendered."""
        if self._fixed_topic:
            return self._template.template
        key = (message.tenant_id, message.stream_category)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = self._template.render(*key)
        return topic

    def _record(self, message: OutboxMessage) -> tuple[bytes, list[tuple[str, str | bytes | None]]]:
        """The value and the headers."""
        if self._cloudevents:
            from eventhex_outbox_relay.publishers._cloudevents import kafka_binary

            attributes, value = kafka_binary(message)
            headers: list[tuple[str, str | bytes | None]] = list(attributes.items())
        else:
            value = encode(message)
            headers = [
                ("event_uuid", str(message.event_uuid).encode()),
                ("event_name", message.event_name.encode()),
                ("event_version", str(message.event_version).encode()),
                ("partition_key", message.partition_key.encode()),
                ("content-type", b"application/json"),
            ]
        headers += [(name, text.encode()) for name, text in trace_headers(message).items()]
        return value, headers

    def _ready(self) -> Producer:
        producer = self._producer
        if producer is not None:
            producer.poll(0)  # serve error callbacks that came in while idle
        if producer is None or self._stale:
            self._drop()
            producer = self._producer = self._new_producer()
            self._stale = False
        return producer

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        producer = self._ready()
        outcomes: dict[int, PublishOutcome] = {}
        reports: dict[int, KafkaError | None] = {}
        produced: list[OutboxMessage] = []
        stops = StreamStops()  # a message refused before it was produced stops its stream
        for message in messages:
            held = stops.held_back(message)
            if held is not None:
                outcomes[message.entry_id] = held
                continue
            outcome = self._produce(producer, message, reports)
            if outcome is None:
                produced.append(message)
            else:
                outcomes[message.entry_id] = stops.record(message, outcome)
        self._await_reports(producer, len(produced), reports)
        return self._settle(messages, produced, reports, outcomes)

    def _produce(
        self, producer: Producer, message: OutboxMessage, reports: dict[int, KafkaError | None]
    ) -> PublishOutcome | None:
        """Hand ``message`` to the producer; its outcome if that failed, else None."""
        try:
            topic = self.topic_for(message)
            value, headers = self._record(message)
        except Exception as error:  # this message only: nothing of it reached the producer
            return failure(message, "kafka", error)
        report = _reporter(reports, message.entry_id)
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                key = message.partition_key.encode()
                producer.produce(topic, value, key, on_delivery=report, headers=headers)
                return None
            except BufferError:  # the producer's queue is full: let it drain
                if time.monotonic() > deadline:
                    self._stale = True
                    raise PublisherUnavailable("kafka: the producer queue stayed full") from None
                producer.poll(0.05)
            except KafkaException as exception:
                refused: KafkaError = exception.args[0]
                if _unreached(refused):
                    self._stale = True
                    raise PublisherUnavailable(f"kafka: {refused.str()}") from None
                return PublishOutcome(message.entry_id, False, f"kafka: {refused.str()}")

    def _await_reports(
        self, producer: Producer, expected: int, reports: dict[int, KafkaError | None]
    ) -> None:
        """Serve delivery reports until every produced message has one; the message timeout
        bounds the wait, since librdkafka reports each message by then."""
        deadline = time.monotonic() + self._timeout + _REPORT_GRACE
        while len(reports) < expected:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            producer.flush(min(left, 0.5))

    def _settle(
        self,
        messages: Sequence[OutboxMessage],
        produced: Sequence[OutboxMessage],
        reports: dict[int, KafkaError | None],
        outcomes: dict[int, PublishOutcome],
    ) -> list[PublishOutcome]:
        errors = {m.entry_id: reports.get(m.entry_id, _NO_REPORT) for m in produced}
        lost = [e for e in errors.values() if e is not None and _unreached(e)]
        if lost:
            self._stale = True
            delivered = {entry for entry, error in errors.items() if error is None}
            raise PublisherUnavailable(f"kafka: {lost[0].str()}", list(delivered))
        self._last_error = None  # the cluster answered: warn again at the next trouble
        for entry, error in errors.items():
            outcomes[entry] = (
                PublishOutcome(entry, True)
                if error is None
                else PublishOutcome(entry, False, f"kafka: {error.str()}")
            )
        return [outcomes[m.entry_id] for m in messages]

    def keep_alive(self) -> None:
        """Serve the producer's error callbacks while the relay is idle (librdkafka keeps its
        connections alive on its own threads), so a broker that went away meanwhile gets a new
        producer at the next batch."""
        if self._producer is not None:
            self._producer.poll(0)

    def _drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.purge()
            producer.poll(0)  # purged messages report here; nobody waits for them any more

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        self._drop()


class _ClientLog:
    """librdkafka's own log lines, three levels lower (critical ones as info, the rest as debug):
    what matters reaches the relay through the error callback and the delivery reports, while
    librdkafka logs every failed reconnection as an error."""

    def log(self, level: int, template: str, *args: object) -> None:
        client_logger.log(max(logging.DEBUG, level - 30), template, *args)


_NO_REPORT = KafkaError(KafkaError._MSG_TIMED_OUT, "no delivery report arrived in time")


def _reporter(
    reports: dict[int, KafkaError | None], entry_id: int
) -> Callable[[KafkaError | None, Message], None]:
    def report(error: KafkaError | None, _: Message) -> None:
        reports[entry_id] = error

    return report
