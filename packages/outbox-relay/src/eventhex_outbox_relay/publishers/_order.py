"""A stream's order inside a batch: nothing after a failed message of a stream counts.

A batch holds runs of consecutive messages of each stream. A publisher sends nothing of a
stream after one of its messages failed where it can tell in time (:class:`StreamStops`: a
message that cannot be encoded, or one the broker refused before the next one went). Where it
cannot, because it sends a batch's messages concurrently or pipelined, the broker may take
message k+1 of a stream although it refused message k; acknowledging k+1 then would let it
overtake k, which is retried later. :func:`in_stream_order` turns the outcomes of such later
messages into "not attempted": the relay gives them back uncharged, and the source hands them
out again only after k (a consumer may then see k+1 twice, which at-least-once delivery allows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from eventhex_core_ports.ports.relay import OutboxMessage, PublishOutcome

__all__ = ["HELD_BACK", "StreamStops", "delivered_in_order", "in_stream_order"]

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


def in_stream_order(
    messages: Sequence[OutboxMessage], outcomes: Sequence[PublishOutcome]
) -> list[PublishOutcome]:
    """``outcomes`` (one per message, same order), with every outcome after a failed message of
    the same stream replaced by a not-attempted one."""
    failed: set[str] = set()
    kept: list[PublishOutcome] = []
    for message, outcome in zip(messages, outcomes, strict=True):
        stream = message.partition_key
        if stream in failed:
            kept.append(PublishOutcome(message.entry_id, False, HELD_BACK, attempted=False))
            continue
        if not outcome.delivered:
            failed.add(stream)
        kept.append(outcome)
    return kept


def delivered_in_order(messages: Sequence[OutboxMessage], delivered: Collection[int]) -> list[int]:
    """The ids of ``delivered`` that no undelivered earlier message of their stream precedes:
    what may be acknowledged when a batch is cut short by an outage."""
    stopped: set[str] = set()
    kept: list[int] = []
    for message in messages:
        stream = message.partition_key
        if stream in stopped:
            continue
        if message.entry_id in delivered:
            kept.append(message.entry_id)
        else:
            stopped.add(stream)
    return kept
