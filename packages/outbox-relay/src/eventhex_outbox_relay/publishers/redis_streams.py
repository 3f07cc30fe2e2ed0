"""Redis Streams: one ``XADD`` per message, pipelined per batch."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode, failure, wants_cloudevents
from eventhex_outbox_relay.publishers._order import in_stream_order
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import redis_maxlen

__all__ = ["RedisStreamsPublisher"]


class RedisStreamsPublisher(Publisher):
    """Appends each message to a stream with fields ``event_uuid``, ``event_name``,
    ``partition_key`` and ``payload`` (the body), and ``traceparent`` / ``tracestate`` when the
    event carries a trace context.

    With the CloudEvents envelope the payload is a structured-mode CloudEvent (JSON) and the
    field ``content_type`` says ``application/cloudevents+json``.

    Args:
        url: ``redis://host:port/db?stream=KEY`` (default key ``eventhex``; ``maxlen=N`` caps the
            stream approximately).
        timeout: Socket timeout in seconds.
        envelope: ``eventhex`` or ``cloudevents``.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, envelope: str = "eventhex") -> None:
        clean, self.stream, self._maxlen = redis_maxlen(url)
        self._cloudevents = wants_cloudevents(envelope)
        self._client = redis.Redis.from_url(
            clean, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def _fields(self, message: OutboxMessage) -> dict[str, bytes | str]:
        fields: dict[str, bytes | str] = {
            "event_uuid": str(message.event_uuid),
            "event_name": message.event_name,
            "partition_key": message.partition_key,
        }
        if self._cloudevents:
            from eventhex_outbox_relay.publishers._cloudevents import (
                STRUCTURED_CONTENT_TYPE,
                structured,
            )

            fields["payload"] = structured(message)
            fields["content_type"] = STRUCTURED_CONTENT_TYPE
        else:
            fields["payload"] = encode(message)
        fields.update(trace_headers(message))
        return fields

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`.

        Redis strings are binary-safe, so every id goes as it is; a message that cannot be
        encoded fails alone, before anything of the batch is sent.
        """
        pipe = self._client.pipeline(transaction=False)
        outcomes: dict[int, PublishOutcome] = {}
        sent: list[OutboxMessage] = []
        for message in messages:
            try:
                fields = self._fields(message)
            except Exception as error:  # this message only: the others still go
                outcomes[message.entry_id] = failure(message, "redis", error)
                continue
            pipe.xadd(self.stream, fields, maxlen=self._maxlen, approximate=True)
            sent.append(message)
        try:
            results = pipe.execute(raise_on_error=False) if sent else []
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise PublisherUnavailable(f"redis: {error}") from error
        for message, result in zip(sent, results, strict=True):
            outcomes[message.entry_id] = (
                PublishOutcome(message.entry_id, False, f"redis: {result}")
                if isinstance(result, Exception)
                else PublishOutcome(message.entry_id, True)
            )
        return in_stream_order(messages, [outcomes[m.entry_id] for m in messages])

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        self._client.close()
