import contextlib
from collections.abc import Callable, Iterator
from uuid import uuid4

from event_sourcery import StreamId
from event_sourcery.event import Recorded

CallerTransaction = Callable[[], contextlib.AbstractContextManager[object]]
"""Opens the transaction a caller wraps around several appends (``transaction.atomic``)."""

QUICK = 0.2
"""Time limit in seconds for reads that are expected to find their events at once."""


def new_stream(category: str | None = None, *, named: bool = False) -> StreamId:
    """A stream id no other test uses."""
    name = f"contract-{uuid4().hex}" if named else None
    return StreamId(name=name, category=category)


def drain(
    batches: Iterator[list[Recorded]], expected: int, max_batches: int = 20
) -> list[Recorded]:
    """Read batches until ``expected`` records arrived or ``max_batches`` were read."""
    received: list[Recorded] = []
    for _ in range(max_batches):
        received.extend(next(batches))
        if len(received) >= expected:
            break
    return received


def items(records: list[Recorded]) -> list[object]:
    """The ``item`` field of each record's event (None for events without one)."""
    return [getattr(r.wrapped_event.event, "item", None) for r in records]
