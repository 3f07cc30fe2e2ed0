"""RabbitMQ (AMQP 0-9-1) with publisher confirms."""

from __future__ import annotations

import contextlib
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
from eventhex_outbox_relay.publishers._body import encode
from eventhex_outbox_relay.publishers._url import pop_params

__all__ = ["RabbitMQPublisher"]

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
    the event name. Each publish waits for the broker's confirm, so a message counts as delivered
    only once RabbitMQ has taken responsibility for it.

    Args:
        url: ``amqp://user:pass@host:port/vhost?exchange=NAME`` (default exchange ``eventhex``,
            declared if missing).
        timeout: Socket and blocked-connection timeout in seconds.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        clean, params = pop_params(url, exchange="eventhex")
        self.exchange = params["exchange"]
        self._parameters = pika.URLParameters(clean)
        self._parameters.socket_timeout = timeout
        self._parameters.blocked_connection_timeout = timeout
        self._parameters.connection_attempts = 1
        self._connection: Any = None
        self._channel: Any = None

    def _open_channel(self) -> Any:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        channel.confirm_delivery()
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        self._channel = channel
        return channel

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        outcomes: list[PublishOutcome] = []
        try:
            channel = self._open_channel()
            for message in messages:
                outcomes.append(self._publish_one(channel, message))
        except _CONNECTION_ERRORS as error:
            self.close()
            delivered = [o.entry_id for o in outcomes if o.delivered]
            raise PublisherUnavailable(f"rabbitmq: {error!r}", delivered) from error
        return outcomes

    def _publish_one(self, channel: Any, message: OutboxMessage) -> PublishOutcome:
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(message.event_uuid),
            type=message.event_name,
            headers={"partition_key": message.partition_key},
        )
        try:
            channel.basic_publish(self.exchange, message.partition_key, encode(message), properties)
        except pika.exceptions.NackError as error:
            return PublishOutcome(message.entry_id, False, f"rabbitmq nack: {error}")
        return PublishOutcome(message.entry_id, True)

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                connection.close()
