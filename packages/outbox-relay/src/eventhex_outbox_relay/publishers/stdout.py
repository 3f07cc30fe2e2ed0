"""Standard output as JSON lines: the default publisher, needs nothing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_outbox_relay.publishers._body import encode, failure, wants_cloudevents
from eventhex_outbox_relay.publishers._order import StreamStops

__all__ = ["StdoutPublisher"]


class StdoutPublisher(Publisher):
    """Writes one JSON object per message and line, flushed per batch.

    Args:
        stream: Where to write (standard output by default).
        envelope: ``eventhex`` (our JSON object) or ``cloudevents`` (a structured-mode CloudEvent
            per line).
    """

    def __init__(self, stream: TextIO | None = None, *, envelope: str = "eventhex") -> None:
        self._stream = stream or sys.stdout
        self._cloudevents = wants_cloudevents(envelope)

    def _line(self, message: OutboxMessage) -> str:
        if self._cloudevents:
            from eventhex_outbox_relay.publishers._cloudevents import structured

            return structured(message).decode() + "\n"
        return encode(message).decode() + "\n"

    def publish(self, messages: Sequence[OutboxMessage]) -> list[PublishOutcome]:
        """See :meth:`Publisher.publish`."""
        lines: list[str] = []
        outcomes: list[PublishOutcome] = []
        stops = StreamStops()
        for message in messages:
            held = stops.held_back(message)
            if held is not None:  # nothing of a stream is written after its failed message
                outcomes.append(held)
                continue
            try:
                lines.append(self._line(message))
            except Exception as error:  # this message and the rest of its stream only
                outcomes.append(stops.record(message, failure(message, "stdout", error)))
            else:
                outcomes.append(PublishOutcome(message.entry_id, True))
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except OSError as error:
            raise PublisherUnavailable(f"cannot write to standard output: {error}") from error
        return outcomes
