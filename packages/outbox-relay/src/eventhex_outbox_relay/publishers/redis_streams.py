"""Redis Streams: one ``XADD`` per message, all of a batch in one script call, in order.

A pipeline keeps a batch's order but cannot stop: if Redis refuses message k of a stream (out of
memory, say) and memory is freed before message k+1, k+1 is added ahead of k. The batch goes
instead to a short Lua script (one round trip, like a pipeline), which adds the messages in order
and skips a stream's later messages once one of them was refused.
"""

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
from eventhex_outbox_relay.publishers._order import HELD_BACK, StreamStops
from eventhex_outbox_relay.publishers._trace import trace_headers
from eventhex_outbox_relay.publishers._url import redis_maxlen

__all__ = ["RedisStreamsPublisher"]

_XADD_IN_ORDER = """
local maxlen, results, stopped, i = ARGV[1], {}, {}, 2
while i <= #ARGV do
    local stream, count = ARGV[i], tonumber(ARGV[i + 1])
    local first = i + 2
    i = first + 2 * count
    if stopped[stream] then
        table.insert(results, -1)
        table.insert(results, '')
    else
        local args = {KEYS[1]}
        if maxlen ~= '' then
            for _, word in ipairs({'MAXLEN', '~', maxlen}) do table.insert(args, word) end
        end
        table.insert(args, '*')
        for j = first, i - 1 do table.insert(args, ARGV[j]) end
        local reply = redis.pcall('XADD', unpack(args))
        if type(reply) == 'table' and reply.err then
            stopped[stream] = true
            table.insert(results, 0)
            table.insert(results, reply.err)
        else
            table.insert(results, 1)
            table.insert(results, reply)
        end
    end
end
return results
"""
"""``KEYS[1]`` is the stream key, ``ARGV[1]`` the ``MAXLEN`` ('' for none), then per message its
stream's partition key, its field count and the field/value pairs. Per message it returns two
values: 1 and the entry id, 0 and Redis's error, or -1 for a message not added because an
earlier one of its stream was refused."""


class RedisStreamsPublisher(Publisher):
    """Appends each message to a stream with fields ``event_uuid``, ``event_name``,
    ``event_version``, ``partition_key`` and ``payload`` (the body), and ``traceparent`` /
    ``tracestate`` when the event carries a trace context.

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
        self._script = self._client.register_script(_XADD_IN_ORDER)

    def _fields(self, message: OutboxMessage) -> dict[str, bytes | str]:
        fields: dict[str, bytes | str] = {
            "event_uuid": str(message.event_uuid),
            "event_name": message.event_name,
            "event_version": str(message.event_version),
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
        encoded fails before anything of the batch is sent, and the rest of its stream is held
        back.
        """
        outcomes: dict[int, PublishOutcome] = {}
        stops = StreamStops()
        sent: list[OutboxMessage] = []
        args: list[bytes | str | int] = ["" if self._maxlen is None else self._maxlen]
        for message in messages:
            held = stops.held_back(message)
            if held is not None:
                outcomes[message.entry_id] = held
                continue
            try:
                fields = self._fields(message)
            except Exception as error:  # this message and the rest of its stream only
                outcomes[message.entry_id] = stops.record(message, failure(message, "redis", error))
                continue
            args += [message.partition_key, len(fields)]
            for name, value in fields.items():
                args += [name, value]
            sent.append(message)
        try:
            replies = self._script(keys=[self.stream], args=args) if sent else []
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise PublisherUnavailable(f"redis: {error}") from error
        for message, status, reply in zip(sent, replies[::2], replies[1::2], strict=True):
            outcomes[message.entry_id] = _outcome(message, status, reply)
        return [outcomes[m.entry_id] for m in messages]

    def close(self) -> None:
        """See :meth:`Publisher.close`."""
        self._client.close()


def _outcome(message: OutboxMessage, status: int, reply: bytes | str) -> PublishOutcome:
    if status == 1:
        return PublishOutcome(message.entry_id, True)
    if status == 0:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
        return PublishOutcome(message.entry_id, False, f"redis: {text}")
    return PublishOutcome(message.entry_id, False, HELD_BACK, attempted=False)
