"""The ports eventhex adapters implement.

Storage, outbox, subscription, key-storage and checkpoint ports are event_sourcery's own
interfaces, re-exported so that an eventhex adapter plugs straight into event_sourcery's
``EventStore``, ``Outbox`` and subscription builder. The relay's ports
(:mod:`eventhex_core_ports.ports.relay`) are ours: event_sourcery has no equivalent.
"""

from eventhex_core_ports.ports.cursors import CursorsDao
from eventhex_core_ports.ports.outbox import OutboxFiltererStrategy, OutboxStorageStrategy
from eventhex_core_ports.ports.relay import (
    OutboxMessage,
    OutboxSource,
    OutboxStats,
    Publisher,
    PublisherUnavailable,
    PublishOutcome,
)
from eventhex_core_ports.ports.storage import (
    EncryptionKeyStorageStrategy,
    StorageStrategy,
    Versioning,
)
from eventhex_core_ports.ports.subscription import SubscriptionStrategy

__all__ = [
    "CursorsDao",
    "EncryptionKeyStorageStrategy",
    "OutboxFiltererStrategy",
    "OutboxMessage",
    "OutboxSource",
    "OutboxStats",
    "OutboxStorageStrategy",
    "PublishOutcome",
    "Publisher",
    "PublisherUnavailable",
    "StorageStrategy",
    "SubscriptionStrategy",
    "Versioning",
]
