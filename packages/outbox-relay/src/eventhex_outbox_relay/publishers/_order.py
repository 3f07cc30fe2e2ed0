"""Stopping a stream inside a batch: nothing of a stream is sent after its failed message.

A batch holds runs of consecutive messages of each stream. A publisher that sends them one after
another, or encodes each before it sends it, knows in time that one failed; it then sends
nothing more of that stream (:class:`StreamStops`) and reports the rest not attempted. Whatever
a publisher reports of later messages, the relay decides the stream order: it acknowledges a
stream's messages only up to its first failure (``eventhex_outbox_relay.relay``), so a message
the broker took behind a refused one, which a pipelined publisher cannot always prevent, is
given back and follows the refused one later (at-least-once delivery).
"""

from __future__ import annotations

from eventhex_core_ports.ports.relay import OutboxMessage, PublishOutcome

__all__ = ["HELD_BACK", "StreamStops"]

HELD_BACK = "not sent: an earlier message of its stream in this batch was not delivered"


class StreamStops:
    """The streams of a batch that have stopped: one of their messages failed, so nothing later
    of theirs is sent."""

    def __init__(self) -> None:
        self._stopped: set[str] = set()

    def held_back(self, message: OutboxMessage) -> PublishOutcome | None:
        """The not-attempted outcome of ``message`` if its stream stopped; None if it may go."""
        if message.partition_key in self._stopped:
            return PublishOutcome(message.entry_id, False, HELD_BACK, attempted=False)
        return None

    def record(self, message: OutboxMessage, outcome: PublishOutcome) -> PublishOutcome:
        """Stop the stream of ``message`` unless ``outcome`` delivered it; returns ``outcome``."""
        if not outcome.delivered:
            self._stopped.add(message.partition_key)
        return outcome
