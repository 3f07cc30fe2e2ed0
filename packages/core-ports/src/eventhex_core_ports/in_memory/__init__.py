"""The in-memory reference adapter: every port, in process memory."""

from eventhex_core_ports.in_memory.backend import InMemoryBackend, InMemoryConfig, InMemoryContainer
from eventhex_core_ports.in_memory.cursors import InMemoryCursorsDao
from eventhex_core_ports.in_memory.key_storage import InMemoryKeyStorage
from eventhex_core_ports.in_memory.outbox import InMemoryOutboxStorageStrategy
from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.in_memory.storage import InMemoryStorageStrategy
from eventhex_core_ports.in_memory.subscription import InMemorySubscriptionStrategy

__all__ = [
    "InMemoryBackend",
    "InMemoryConfig",
    "InMemoryContainer",
    "InMemoryCursorsDao",
    "InMemoryKeyStorage",
    "InMemoryOutboxSource",
    "InMemoryOutboxStorageStrategy",
    "InMemoryStorageStrategy",
    "InMemorySubscriptionStrategy",
]
