"""Publishers, one module per broker, picked by the scheme of the publisher URL.

Broker clients are optional extras of the package and are imported only when their publisher is
built, so a relay that publishes to Redis does not need pika or nats-py.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from eventhex_core_ports.ports.relay import Publisher
from eventhex_outbox_relay.publishers._url import redacted

__all__ = ["publisher_from_url"]


def publisher_from_url(
    url: str,
    *,
    timeout: float = 10.0,
    webhook_secret: str | None = None,
    envelope: str = "eventhex",
) -> Publisher:
    """Build the publisher a URL names.

    Args:
        url: ``stdout:``, ``null:``, ``redis://…?stream=KEY``, ``amqp://…?exchange=NAME``,
            ``nats://…?stream=NAME&subject=PREFIX`` (``tls://…`` with TLS),
            ``kafka://host:9092?topic=NAME`` or an ``http(s)://`` webhook.
        timeout: Seconds the broker may take to answer.
        webhook_secret: HMAC key for webhook signatures.
        envelope: ``eventhex`` (our JSON object, the default) or ``cloudevents`` (CloudEvents
            1.0: binary content mode where the protocol has headers, structured JSON on Redis
            and standard output). ``null:`` ignores it.

    Raises:
        ValueError: Unknown scheme or envelope, or a URL the publisher refuses.
        ImportError: The publisher's client (or, for CloudEvents, the SDK) is not installed.
    """
    scheme = urlsplit(url).scheme
    if scheme == "stdout":
        from eventhex_outbox_relay.publishers.stdout import StdoutPublisher

        return StdoutPublisher(envelope=envelope)
    if scheme == "null":
        from eventhex_outbox_relay.publishers.null import NullPublisher

        return NullPublisher()
    if scheme in ("redis", "rediss"):
        from eventhex_outbox_relay.publishers.redis_streams import RedisStreamsPublisher

        return RedisStreamsPublisher(url, timeout=timeout, envelope=envelope)
    if scheme in ("amqp", "amqps"):
        from eventhex_outbox_relay.publishers.rabbitmq import RabbitMQPublisher

        return RabbitMQPublisher(url, timeout=timeout, envelope=envelope)
    if scheme in ("nats", "tls"):
        from eventhex_outbox_relay.publishers.nats_jetstream import NatsJetStreamPublisher

        return NatsJetStreamPublisher(url, timeout=timeout, envelope=envelope)
    if scheme == "kafka":
        from eventhex_outbox_relay.publishers.kafka import KafkaPublisher

        return KafkaPublisher(url, timeout=timeout, envelope=envelope)
    if scheme in ("http", "https"):
        from eventhex_outbox_relay.publishers.webhook import WebhookPublisher

        return WebhookPublisher(url, timeout=timeout, secret=webhook_secret, envelope=envelope)
    raise ValueError(f"unknown publisher scheme {scheme!r} in {redacted(url)}")
