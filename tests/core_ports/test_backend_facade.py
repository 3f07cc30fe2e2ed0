"""The backend facade behaves like event_sourcery's Backend, over a DI container."""

import subprocess
import sys
from typing import Any

import pytest
from dependency_injector import providers
from event_sourcery import EventStore, StreamId, TenantId
from event_sourcery.encryption import NoEncryptionStrategy
from event_sourcery.event import ContextComponent, EventRegistry, Serde
from event_sourcery.exceptions import ConflictingContextComponent, NoProviderConfigured
from event_sourcery.interfaces import StorageStrategy

from eventhex_core_ports import BackendNotConfigured, CoreContainer, InMemoryBackend, InMemoryConfig
from eventhex_core_ports.in_memory import InMemoryKeyStorage, InMemoryStorageStrategy
from eventhex_core_ports.testing.events import ContractItemAdded


def test_unconfigured_backend_works_with_the_defaults_like_upstreams() -> None:
    backend = InMemoryBackend().with_outbox()
    stream = StreamId()

    backend.event_store.append(ContractItemAdded(item="a"), stream_id=stream)

    assert backend[InMemoryConfig] == InMemoryConfig()
    assert [e.version for e in backend.event_store.load_stream(stream)] == [1]
    published: list[object] = []
    backend.outbox.run(published.append)
    assert len(published) == 1


def test_a_core_without_an_adapter_says_what_is_missing() -> None:
    core = CoreContainer()
    with pytest.raises(BackendNotConfigured, match="No storage adapter is wired"):
        core.event_store()
    assert issubclass(BackendNotConfigured, NoProviderConfigured)


def test_type_lookup_resolves_core_components() -> None:
    backend = InMemoryBackend().configure()
    assert isinstance(backend[EventStore], EventStore)
    assert isinstance(backend[Serde], Serde)
    assert backend[TenantId] == ""
    assert backend[EventRegistry] is backend[EventRegistry]
    assert backend[InMemoryConfig] == InMemoryConfig()


def test_setting_an_instance_rewires_every_user_of_it() -> None:
    backend = InMemoryBackend().configure()
    registry = EventRegistry()
    backend[EventRegistry] = registry
    assert backend[Serde].registry is registry


def test_setting_a_provider_callable_receives_the_backend() -> None:
    backend = InMemoryBackend().configure()
    seen: list[Any] = []

    def build_registry(container: InMemoryBackend) -> EventRegistry:
        seen.append(container)
        return EventRegistry()

    backend[EventRegistry] = build_registry
    backend[EventRegistry]
    assert seen == [backend]


def test_unknown_types_can_be_bound_and_read() -> None:
    class Clock:
        pass

    backend = InMemoryBackend().configure()
    clock = Clock()
    backend[Clock] = clock
    assert backend[Clock] is clock
    assert backend.get(int) is None
    with pytest.raises(KeyError, match="Nothing is bound to int"):
        backend[int]


def test_tenant_mode_is_an_independent_copy() -> None:
    backend = InMemoryBackend().configure()
    tenant = backend.in_tenant_mode("acme")
    tenant[EventRegistry] = EventRegistry()

    assert tenant[TenantId] == "acme"
    assert backend[TenantId] == ""
    assert tenant[EventRegistry] is not backend[EventRegistry]
    assert tenant.in_transaction is backend.in_transaction


def test_adapter_is_swapped_by_a_container_override() -> None:
    """A test double replaces the storage adapter with no monkeypatching."""

    class RecordingStorage(InMemoryStorageStrategy):
        appended: list[str] = []

        def insert_events(self, stream_id: StreamId, versioning: Any, events: Any) -> None:
            self.appended.extend(e.name for e in events)
            super().insert_events(stream_id, versioning, events)

    backend = InMemoryBackend().configure()
    container = backend.container
    with container.storage.override(
        providers.Factory(
            RecordingStorage, store=container.store, dispatcher=container.core.dispatcher
        )
    ):
        backend.event_store.append(ContractItemAdded(item="a"), stream_id=StreamId())
        assert isinstance(backend[StorageStrategy], RecordingStorage)

    assert RecordingStorage.appended == ["eventhex.contract.ItemAdded"]
    assert not isinstance(backend[StorageStrategy], RecordingStorage)


def test_encryption_uses_tenant_scoped_key_storage() -> None:
    keys = InMemoryKeyStorage()
    backend = InMemoryBackend().configure().with_encryption(NoEncryptionStrategy(), keys)
    tenant = backend.in_tenant_mode("acme")
    tenant.core.tenant_key_storage().store("subject", b"k")

    assert keys.keys == {("acme", "subject"): b"k"}
    assert backend.core.tenant_key_storage().get("subject") is None


def test_conflicting_context_enrichers_are_refused() -> None:
    class Trace(ContextComponent):
        __context_name__ = "trace"

    class Enricher:
        component_type = Trace

        def enrich(self, context: Any, *, event: Any, stream_id: Any) -> None:
            return None

    with pytest.raises(ConflictingContextComponent):
        InMemoryBackend().configure().with_context_enrichers(Enricher(), Enricher())


def test_core_ports_import_without_django() -> None:
    code = (
        "import sys, eventhex_core_ports, eventhex_core_ports.testing, eventhex_core_ports.ports;"
        "sys.exit('django' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
