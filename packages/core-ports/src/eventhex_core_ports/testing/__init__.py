"""The contract kit: behaviour every eventhex adapter must show, as pytest test classes.

An adapter's test module subclasses each class and provides its fixture::

    from eventhex_core_ports.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def backend(self):
            return MyBackend().configure()

A new adapter is done when every contract passes.
"""

from eventhex_core_ports.testing.cursors import CursorsContract
from eventhex_core_ports.testing.in_transaction import InTransactionContract
from eventhex_core_ports.testing.key_storage import KeyStorageContract
from eventhex_core_ports.testing.outbox import OutboxContract
from eventhex_core_ports.testing.relay_source import OutboxSourceContract
from eventhex_core_ports.testing.storage import ConcurrentWritersContract, StorageContract
from eventhex_core_ports.testing.subscription import SubscriptionContract
from eventhex_core_ports.testing.upcasting import UpcastingContract

__all__ = [
    "ConcurrentWritersContract",
    "CursorsContract",
    "InTransactionContract",
    "KeyStorageContract",
    "OutboxContract",
    "OutboxSourceContract",
    "StorageContract",
    "SubscriptionContract",
    "UpcastingContract",
]
