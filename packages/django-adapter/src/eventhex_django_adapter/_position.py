"""Positions: where an event sits in commit order, as one opaque integer.

On PostgreSQL an event's place in commit order is the pair (writing transaction id, event id),
encoded as ``(tx_id << 64) | id`` so that integer order is pair order. On SQLite, where one
writer at a time makes id order commit order, the position is the event id itself.
"""

from typing import NamedTuple

__all__ = ["ID_BITS", "CommitPoint", "decode", "encode"]

ID_BITS = 64
_ID_MASK = (1 << ID_BITS) - 1


class CommitPoint(NamedTuple):
    """A decoded PostgreSQL position: the writing transaction id and the event id."""

    tx_id: int
    event_id: int


def encode(tx_id: int, event_id: int) -> int:
    """Encode (transaction id, event id) as one position; both must be non-negative."""
    return (tx_id << ID_BITS) | event_id


def decode(position: int | None) -> CommitPoint:
    """Decode a position; ``None`` and negative values mean "before everything"."""
    if position is None or position <= 0:
        return CommitPoint(0, 0)
    return CommitPoint(position >> ID_BITS, position & _ID_MASK)
