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
from eventhex_outbox_relay.publishers._body import encode
from eventhex_outbox_relay.publishers._url import pop_params

__all__ = ["RedisStreamsPublisher"]


class RedisStreamsPublisher(Publisher):
    """Appends each message to a stream with fields ``event_uuid``, ``event_name``,
    ``partition_key`` and ``payload`` (the JSON body).

    Args:
        url: ``redis://host:port/db?stream=KEY`` (default key ``eventhex``; ``maxlen=N`` caps the
            stream approximately).
        timeout: Socket timeout in seconds.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        clean, params = pop_params(url, stream="eventhex", maxlen="")
        self.stream = params["stream"]
        self._maxlen = int(params["maxlen"]) if params["maxlen"] else None
        self._client = redis.Redis.from_url(
            clean, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        pipe = self._client.pipeline(transaction=False)
        for message in messages:
            fields: dict[str, bytes | str] = {
                "event_uuid": str(message.event_uuid),
                "event_name": message.event_name,
                "partition_key": message.partition_key,
                "payload": encode(message),
            }
            pipe.xadd(self.stream, fields, maxlen=self._maxlen, approximate=True)
        try:
            results = pipe.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise PublisherUnavailable(f"redis: {error}") from error
        return [
            PublishOutcome(m.entry_id, False, f"redis: {r}")
            if isinstance(r, Exception)
            else PublishOutcome(m.entry_id, True)
            for m, r in zip(messages, results, strict=True)
        ]

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        self._client.close()
