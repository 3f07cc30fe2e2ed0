"""Storage ports: event streams and the per-tenant keys used for crypto-shredding.

``StorageStrategy`` contract, as the contract kit checks it:

* ``fetch_events(stream_id, start, stop)`` returns the stream's events ordered by version,
  ``start`` inclusive and ``stop`` exclusive; when a snapshot with ``start <= version < stop``
  exists, the newest one comes first, followed only by the events after it.
* ``insert_events`` is atomic: every event, the stream's new version and any outbox rows are
  written together or not at all. ``ExplicitVersioning`` with ``expected_version == 0`` means
  "the stream must be new"; any mismatch raises ``ConcurrentStreamWriteError``.
* Event uuids are unique store-wide (across streams and tenants). An append that repeats a
  uuid within itself, or carries the uuid of a stored event, raises
  :class:`~eventhex_core_ports.errors.DuplicateEventUuid` naming the uuids and the
  stream, and writes nothing; inside a caller's transaction only the append is undone, and the
  transaction stays usable. The versioning check comes first: a wrong expected version raises
  ``ConcurrentStreamWriteError`` whatever the uuids. A deleted stream's event uuids are free
  again.
* Event versions continue the stream (the rule: docs/guarantees.md, "Appends"; after a snapshot
  that moved the stream on, N is the snapshot's version), or the append raises
  :class:`~eventhex_core_ports.errors.InvalidEventVersions` and writes nothing, after the
  versioning and stored-uuid checks.
* A stream is identified by ``(tenant, category, uuid)``; a named stream's uuid is derived from
  its name, so the name is unique per tenant and category too.
* ``current_position`` is the position of the newest readable event, or ``None``/``0`` when
  there is none; subscriptions started from it receive exactly the events written after it.
"""

from event_sourcery.interfaces import (
    EncryptionKeyStorageStrategy,
    StorageStrategy,
    Versioning,
)

__all__ = ["EncryptionKeyStorageStrategy", "StorageStrategy", "Versioning"]
