"""Outbox ports used by event_sourcery's ``Outbox``.

An outbox storage strategy receives every appended record that the filterer accepts, in the same
transaction as the append, and hands entries out for publishing. An entry whose publishing raises
loses one attempt; after ``outbox_attempts`` failed attempts it is no longer handed out.
"""

from event_sourcery.interfaces import OutboxFiltererStrategy, OutboxStorageStrategy

__all__ = ["OutboxFiltererStrategy", "OutboxStorageStrategy"]
