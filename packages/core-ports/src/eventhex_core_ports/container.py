"""``CoreContainer``: event_sourcery's core, wired with dependency-injector.

It reproduces the wiring of event_sourcery's ``Backend`` and ``TransactionalBackend``, with two
drop-ins that give the same results faster: ``FastSerde`` (no generic deep copies) and
``ListenerAwareDispatcher`` (no deserialization on append when nobody listens), and an event
registry whose unknown-name error names the event and the fix (``ExplainingEventRegistry``). The
storage, subscription and outbox strategies are declared dependencies that an adapter supplies.
Adapters *compose* this container (``providers.Container(CoreContainer)``) and override its
dependencies; they never subclass it, because a provider redefined in a subclass does not rewire
the parent providers that use it.

Singletons are backend-wide (shared by every tenant view of a backend); factories are resolved
per use, so tenant-scoped objects are factories that read ``tenant_id``.
"""

from collections.abc import Callable
from typing import NoReturn

from dependency_injector import containers, providers
from event_sourcery import DEFAULT_TENANT, Outbox
from event_sourcery.encryption import Encryption, NoEncryptionStrategy, NoKeyStorageStrategy
from event_sourcery.in_transaction import Listeners
from event_sourcery.interfaces import EncryptionKeyStorageStrategy, StorageStrategy
from event_sourcery.outbox import NoOutboxStorageStrategy, no_filter

from eventhex_core_ports._internal.dispatch import ListenerAwareDispatcher
from eventhex_core_ports._internal.reading import DecodingEventStore, DecodingSubscriptionBuilder
from eventhex_core_ports._internal.registry import ExplainingEventRegistry
from eventhex_core_ports._internal.serde import FastSerde
from eventhex_core_ports.errors import BackendNotConfigured
from eventhex_core_ports.upcasting import default_upcasters

__all__ = ["CoreContainer", "not_configured"]


def _raise_not_configured(message: str) -> NoReturn:
    raise BackendNotConfigured(message)


def not_configured(message: str) -> providers.Provider[NoReturn]:
    """A provider that raises ``BackendNotConfigured(message)`` until it is overridden."""
    return providers.Callable(_raise_not_configured, message)


def _scope_key_storage(
    key_storage: EncryptionKeyStorageStrategy, tenant_id: str
) -> EncryptionKeyStorageStrategy:
    return key_storage.scoped_for_tenant(tenant_id)


def _scope_storage(storage: StorageStrategy, tenant_id: str) -> StorageStrategy:
    return storage.scoped_for_tenant(tenant_id)


_ADAPTER_MISSING = (
    "No storage adapter is wired. Use an eventhex backend such as "
    "eventhex_django_adapter.DjangoBackend or eventhex_core_ports.InMemoryBackend."
)


class CoreContainer(containers.DeclarativeContainer):
    """The event_sourcery core. Override ``storage`` and ``subscription`` to make it usable."""

    tenant_id = providers.Object(DEFAULT_TENANT)
    event_registry = providers.Singleton(ExplainingEventRegistry)

    encryption_strategy = providers.Singleton(NoEncryptionStrategy)
    key_storage = providers.Singleton(NoKeyStorageStrategy)
    tenant_key_storage = providers.Factory(_scope_key_storage, key_storage, tenant_id)
    encryption = providers.Factory(
        Encryption,
        registry=event_registry,
        strategy=encryption_strategy,
        key_storage=tenant_key_storage,
    )
    upcasters = providers.Object(default_upcasters)
    serde = providers.Factory(
        FastSerde, registry=event_registry, encryption=encryption, upcasters=upcasters
    )
    context_enrichers: providers.Provider[tuple[object, ...]] = providers.Object(())

    listeners = providers.Singleton(Listeners)
    dispatcher = providers.Factory(ListenerAwareDispatcher, serde, listeners)

    storage: providers.Provider[StorageStrategy] = not_configured(_ADAPTER_MISSING)  # type: ignore[assignment]
    tenant_storage = providers.Factory(_scope_storage, storage, tenant_id)
    subscription = not_configured(_ADAPTER_MISSING)
    outbox_filterer: providers.Provider[Callable[..., bool]] = providers.Object(no_filter)
    outbox_storage = providers.Factory(NoOutboxStorageStrategy)

    event_store = providers.Factory(
        DecodingEventStore,
        storage_strategy=tenant_storage,
        serde=serde,
        context_enrichers=context_enrichers,
    )
    outbox = providers.Factory(Outbox, strategy=outbox_storage, serde=serde)
    subscriber = providers.Factory(DecodingSubscriptionBuilder, serde, subscription)
