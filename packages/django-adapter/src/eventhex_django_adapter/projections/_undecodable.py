"""Finding the event a projection's subscription could not decode.

The runner reads through the decoding subscription, which builds every event of a batch as it
reads it; an event it cannot build (its name matches no registered class, its payload no longer
validates) ends the whole read with that error and no record to name. This reads the same
selection again from the checkpoint, undecoded, and builds each event on its own, so the runner
can treat the one that fails like an event whose handler fails: retry it, then park it.
"""

import traceback
from dataclasses import dataclass
from datetime import timedelta

from event_sourcery.event import Recorded, RecordedRaw, Serde
from event_sourcery.interfaces import SubscriptionStrategy

from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._registry import event_names

__all__ = ["Undecodable", "decode", "read_until_undecodable"]


@dataclass(frozen=True)
class Undecodable:
    """A stored event that cannot be built, with the traceback of the last try."""

    record: RecordedRaw
    error: str


def decode(backend: DjangoBackend, record: RecordedRaw) -> Recorded | Undecodable:
    """``record`` built as the projection's handlers receive it, or why it cannot be."""
    try:
        return backend[Serde].deserialize_record(record)
    except Exception:
        return Undecodable(record, traceback.format_exc())


def _raw_batch(backend: DjangoBackend, projection: Projection, position: int) -> list[RecordedRaw]:
    strategy = backend[SubscriptionStrategy]
    size, now = projection.batch_size, timedelta(0)
    types = projection.selected_types()
    if projection.category is not None:
        batches = strategy.subscribe_to_category(position, size, now, projection.category)
    elif types is not None:
        names = list(event_names(backend, projection) or ())
        batches = strategy.subscribe_to_events(position, size, now, names)
    else:
        batches = strategy.subscribe_to_all(position, size, now)
    return next(iter(batches), [])


def read_until_undecodable(
    backend: DjangoBackend, projection: Projection, position: int
) -> tuple[list[Recorded], Undecodable | None]:
    """The projection's next batch after ``position``, built one event at a time.

    Returns the events that build, up to the first that does not, and that one (``None`` when
    every event of the batch builds: the subscription failed for another reason).
    """
    built: list[Recorded] = []
    for record in _raw_batch(backend, projection, position):
        result = decode(backend, record)
        if isinstance(result, Undecodable):
            return built, result
        built.append(result)
    return built, None
