"""A stream's order inside a batch: nothing after a failed message of a stream counts.

A publisher may send a batch's messages concurrently or pipelined, so the broker can take
message k+1 of a stream although it refused message k. Acknowledging k+1 then would let it
overtake k, which is retried later. These helpers turn the outcomes of such later messages into
"not attempted": the relay gives them back uncharged, and the source hands them out again only
after k (a consumer may then see k+1 twice, which at-least-once delivery allows).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from eventhex_core_ports.ports.relay import OutboxMessage, PublishOutcome

__all__ = ["HELD_BACK", "delivered_in_order", "in_stream_order"]

HELD_BACK = "not sent: an earlier message of its stream in this batch was not delivered"


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
