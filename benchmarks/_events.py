"""The events the benchmarks write: a realistic, modestly nested payload."""

from __future__ import annotations

import itertools

from event_sourcery import StreamId
from event_sourcery.event import Event
from pydantic import BaseModel


class OrderLine(BaseModel):
    """One line of an order (nested in the payload)."""

    sku: str
    quantity: int
    price_cents: int


class OrderPlaced(Event):
    """The benchmark event: about 300 bytes of JSON with a nested list."""

    order_id: str
    customer: str
    total_cents: int
    lines: list[OrderLine]
    note: str
    sent_at: float = 0.0


_counter = itertools.count()


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
