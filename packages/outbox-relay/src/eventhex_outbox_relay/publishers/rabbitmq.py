"""RabbitMQ (AMQP 0-9-1) with publisher confirms."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import pika
import pika.exceptions

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode, failure, wants_cloudevents
from eventhex_outbox_relay.publishers._names import short_string
from eventhex_outbox_relay.publishers._order import StreamStops
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import pop_params

__all__ = ["RabbitMQPublisher"]

logger = logging.getLogger("eventhex.relay.rabbitmq")

_CONNECTION_ERRORS = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.ChannelClosed,
    pika.exceptions.ConnectionClosed,
    pika.exceptions.StreamLostError,
    OSError,
)


class RabbitMQPublisher(Publisher):
    """Publishes persistent messages to a durable topic exchange, routed by the stream.

    The routing key is the message's partition key; ``message_id`` is the event uuid and ``type``
    the event name. Both are AMQP short strings (at most 255 bytes of UTF-8): a longer one is cut
    and ends in ``~`` and a digest (see :func:`~eventhex_outbox_relay.publishers._names.\
short_string`), while the ``partition_key`` and ``event_name`` headers and the body carry the
    originals. Messages go in order on one channel, each publish waiting for the broker's
    confirm, so a message counts as delivered only once RabbitMQ has taken responsibility for
    it, and nothing of a stream is sent after one of its messages was refused. ``traceparent``
    and ``tracestate`` headers carry the event's trace context when it has one.

    With the CloudEvents envelope the body is the event's data and the attributes travel as
    ``ce-<attribute>`` headers (binary content mode of the SDK's RabbitMQ binding).

    Args:
        url: ``amqp://user:pass@host:port/vhost?exchange=NAME`` (default exchange ``eventhex``,
            declared if missing).
        timeout: Socket and blocked-connection timeout in seconds.
        envelope: ``eventhex`` or ``cloudevents``.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, envelope: str = "eventhex") -> None:
        clean, params = pop_params(url, exchange="eventhex")
        self.exchange = params["exchange"]
        self._cloudevents = wants_cloudevents(envelope)
        self._parameters = pika.URLParameters(clean)
        self._parameters.socket_timeout = timeout
        self._parameters.blocked_connection_timeout = timeout
        self._parameters.connection_attempts = 1
        self._connection: Any = None
        self._channel: Any = None

    def _connect(self) -> Any:
        self.close()
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        self._channel = channel
        return channel

    def _kept_channel(self) -> Any:
        """The channel of the connection kept from earlier batches, or None if it is gone.

        A blocking connection answers heartbeats only while it does I/O, so the broker closes one
        that sat idle for two heartbeat intervals; pika finds out on its next I/O. Reading what
        is waiting on the socket here (also sending a heartbeat that is due) makes that happen
        now, before the batch, rather than as a failed publish.
        """
        if self._channel is None or not self._channel.is_open:
            return None
        try:
            self._connection.process_data_events(time_limit=0)
        except _CONNECTION_ERRORS as error:
            logger.info("rabbitmq connection closed while idle (%r); reconnecting", error)
            self.close()
            return None
        return self._channel if self._channel.is_open else None

    def keep_alive(self) -> None:
        """Answer the broker's heartbeats while the relay is idle (see :meth:`_kept_channel`)."""
        self._kept_channel()

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`.

        A connection kept from an earlier batch that turns out to be closed — found before the
        batch, or failing before the broker has answered any message of it — is replaced by a
        new one at once; only a new connection's failure makes the broker unavailable.
        """
        outcomes: list[PublishOutcome] = []
        try:
            channel = self._kept_channel()
            if channel is None:
                self._publish_all(self._connect(), messages, outcomes)
                return outcomes
            try:
                self._publish_all(channel, messages, outcomes)
            except _CONNECTION_ERRORS as error:
                if outcomes:
                    raise
                logger.info("rabbitmq connection lost before the batch (%r); reconnecting", error)
                self._publish_all(self._connect(), messages, outcomes)
        except _CONNECTION_ERRORS as error:
            self.close()
            delivered = [o.entry_id for o in outcomes if o.delivered]
            raise PublisherUnavailable(f"rabbitmq: {error!r}", delivered) from error
        return outcomes

    def _publish_all(
        self, channel: Any, messages: Sequence[OutboxMessage], outcomes: list[PublishOutcome]
    ) -> None:
        stops = StreamStops()  # each publish waits for its confirm: a refusal stops its stream
        for message in messages:
            held = stops.held_back(message)
            if held is not None:
                outcomes.append(held)
                continue
            if channel is None:
                channel = self._connect()
            try:
                outcomes.append(stops.record(message, self._publish_one(channel, message)))
            except _CONNECTION_ERRORS:
                raise
            except Exception as error:  # this message only; the connection's state is unknown
                logger.warning(
                    "rabbitmq could not publish entry %s (%r); the connection is replaced",
                    message.entry_id,
                    error,
                )
                outcomes.append(stops.record(message, failure(message, "rabbitmq", error)))
                self.close()
                channel = None

    def _encoded(self, message: OutboxMessage) -> tuple[bytes, str, dict[str, str]]:
        """The body, its content type and the message headers."""
        if self._cloudevents:
            from eventhex_outbox_relay.publishers._cloudevents import rabbitmq_binary

            headers, content_type, body = rabbitmq_binary(message)
        else:
            headers = {
                "partition_key": message.partition_key,
                "event_name": message.event_name,
                "event_version": str(message.event_version),
            }
            content_type, body = "application/json", encode(message)
        return body, content_type, headers | trace_headers(message)

    def _publish_one(self, channel: Any, message: OutboxMessage) -> PublishOutcome:
        try:
            body, content_type, headers = self._encoded(message)
        except Exception as error:  # nothing was sent: the connection is as it was
            return failure(message, "rabbitmq", error)
        properties = pika.BasicProperties(
            content_type=content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(message.event_uuid),
            type=short_string(message.event_name),
            headers=headers,
        )
        routing_key = short_string(message.partition_key)
        try:
            channel.basic_publish(self.exchange, routing_key, body, properties)
        except pika.exceptions.NackError as error:
            return PublishOutcome(message.entry_id, False, f"rabbitmq nack: {error}")
        return PublishOutcome(message.entry_id, True)

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(Exception):  # it is being thrown away either way
                connection.close()
