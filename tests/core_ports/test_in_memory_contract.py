"""The in-memory reference adapter passes the whole contract kit."""

from typing import Any

import pytest

from eventhex_core_ports import InMemoryBackend, InMemoryConfig
from eventhex_core_ports.in_memory import (
    InMemoryCursorsDao,
    InMemoryKeyStorage,
    InMemoryOutboxSource,
)
from eventhex_core_ports.testing import (
    ConcurrentWritersContract,
    CursorsContract,
    InTransactionContract,
    KeyStorageContract,
    OutboxContract,
    StorageContract,
    SubscriptionContract,
    UpcastingContract,
)


@pytest.fixture
def in_memory_backend() -> InMemoryBackend:
    return InMemoryBackend().configure()


class TestStorage(StorageContract):
    @pytest.fixture
    def backend(self, in_memory_backend: InMemoryBackend) -> InMemoryBackend:
        return in_memory_backend


class TestConcurrentWriters(ConcurrentWritersContract):
    @pytest.fixture
    def backend(self, in_memory_backend: InMemoryBackend) -> InMemoryBackend:
        return in_memory_backend


class TestSubscriptions(SubscriptionContract):
    @pytest.fixture
    def backend(self, in_memory_backend: InMemoryBackend) -> InMemoryBackend:
        return in_memory_backend


class TestInTransaction(InTransactionContract):
    @pytest.fixture
    def backend(self, in_memory_backend: InMemoryBackend) -> InMemoryBackend:
        return in_memory_backend


class TestOutbox(OutboxContract):
    @pytest.fixture
    def backend_factory(self) -> Any:
        return lambda attempts: InMemoryBackend().configure(
            InMemoryConfig(outbox_attempts=attempts)
        )

    @pytest.fixture
    def relay_source_for(self) -> Any:
        def source(backend: InMemoryBackend) -> InMemoryOutboxSource:
            return backend.container.relay_source()

        return source


class TestKeyStorage(KeyStorageContract):
    @pytest.fixture
    def key_storage(self) -> InMemoryKeyStorage:
        return InMemoryKeyStorage()


class TestCursors(CursorsContract):
    @pytest.fixture
    def cursors(self) -> InMemoryCursorsDao:
        return InMemoryCursorsDao()


class TestUpcasting(UpcastingContract):
    @pytest.fixture
    def backend_factory(self) -> Any:
        return lambda attempts: InMemoryBackend().configure(
            InMemoryConfig(outbox_attempts=attempts)
        )
