"""The switches that keep a quiet append's notify triggers silent (``notify.sql``).

``DjangoConfig(notifications=False)`` silences that backend's appends only: the other statements
of their transaction keep notifying. The one-statement append silences its own statement
(:data:`QUIET_EVENTS`, :data:`QUIET_OUTBOX`, cleared by the triggers it fires); the slow path,
several ORM statements, holds the switches for its block (:func:`held_quiet`).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

__all__ = ["QUIET_EVENTS", "QUIET_OUTBOX", "held_quiet"]

QUIET_EVENTS = "set_config('eventhex.quiet_events', 'once', true)"
"""Silences the events' notify trigger for the statement that runs it."""

QUIET_OUTBOX = "set_config('eventhex.quiet_outbox', 'once', true)"
"""Silences the outbox's notify trigger for the statement that runs it: only a statement that
inserts outbox rows may run it, since the trigger that clears it fires only on such a one."""

_HOLD = (
    "SELECT set_config('eventhex.quiet_events', %(value)s, true),"
    " set_config('eventhex.quiet_outbox', %(value)s, true)"
)


@contextmanager
def held_quiet(alias: str, quiet: bool) -> Iterator[None]:
    """Inside the block, the inserts on PostgreSQL connection ``alias`` notify nobody (when
    ``quiet``).

    Meant for the inside of a ``transaction.atomic`` block: if the block raises, rolling back
    its savepoint undoes the switches too, so they are cleared only on success.
    """
    if not quiet or connections[alias].vendor != "postgresql":
        yield
        return
    with connections[alias].cursor() as cursor:
        cursor.execute(_HOLD, {"value": "held"})
    yield
    with connections[alias].cursor() as cursor:
        cursor.execute(_HOLD, {"value": ""})
