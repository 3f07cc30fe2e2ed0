"""The events the benchmarks write.

``Written`` is the payload every contender stores in the comparison groups (eventhex,
python-event-sourcery 0.6.1, the psycopg floor and eventsourcing 9.5.6): the writer's number
``w``, a sequence number ``seq`` and a 64-character ``pad``, about 100 bytes of JSON.
``OrderPlaced`` (about 300 bytes, a nested list) carries the send time of the live-latency
benchmarks.
"""

from __future__ import annotations

import itertools

from event_sourcery import StreamId
from event_sourcery.event import Event
from pydantic import BaseModel

PAD = "p" * 64
"""The 64-character padding of every ``Written`` event."""


class Written(Event):
    """The comparison payload: writer, sequence number, 64 characters of padding."""

    w: int
    seq: int
    pad: str


class OrderLine(BaseModel):
    """One line of an order (nested in the payload)."""

    sku: str
    quantity: int
    price_cents: int


class OrderPlaced(Event):
    """The live-latency event: about 300 bytes of JSON with a nested list."""

    order_id: str
    customer: str
    total_cents: int
    lines: list[OrderLine]
    note: str
    sent_at: float = 0.0


_counter = itertools.count()


def written(w: int = 0) -> Written:
    """A fresh ``Written`` from writer ``w`` with the next sequence number."""
    return Written(w=w, seq=next(_counter), pad=PAD)


def order_placed(sent_at: float = 0.0) -> OrderPlaced:
    """A fresh ``OrderPlaced`` with a unique order id."""
    n = next(_counter)
    return OrderPlaced(
        order_id=f"order-{n}",
        customer=f"customer-{n % 97}",
        total_cents=1999 + n % 1000,
        lines=[
            OrderLine(sku=f"sku-{n % 13}", quantity=1 + n % 3, price_cents=999),
            OrderLine(sku=f"sku-{n % 7}", quantity=2, price_cents=500),
        ],
        note="leave at the door",
        sent_at=sent_at,
    )


def new_stream(prefix: str = "order") -> StreamId:
    """A stream id that does not exist yet (named, in category ``order``)."""
    return StreamId(name=f"{prefix}-{next(_counter)}", category="order")
