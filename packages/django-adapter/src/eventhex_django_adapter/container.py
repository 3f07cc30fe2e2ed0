"""``DjangoContainer``: the composition root of the Django adapter.

It composes event_sourcery's core (``CoreContainer``, as the provider ``core``) and supplies its
storage, subscription and outbox ports. The adapter modules are imported only when a provider is
first resolved, so building and configuring a backend works before ``django.setup()``.

Swap a component in a test with ``backend.container.<provider>.override(...)``.
"""

from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers
from event_sourcery.event import EventRegistry
from event_sourcery.in_transaction import Dispatcher
from event_sourcery.interfaces import OutboxFiltererStrategy

from eventhex_core_ports.container import CoreContainer
from eventhex_django_adapter.config import DjangoConfig

if TYPE_CHECKING:
    from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy
    from eventhex_django_adapter.storage import DjangoStorageStrategy
    from eventhex_django_adapter.subscription import DjangoSubscriptionStrategy

__all__ = ["DjangoContainer"]


def _storage(
    dispatcher: Dispatcher, outbox: "DjangoOutboxStorageStrategy | None", config: DjangoConfig
) -> "DjangoStorageStrategy":
    from eventhex_django_adapter.storage import DjangoStorageStrategy

    return DjangoStorageStrategy(
        dispatcher,
        outbox,
        database=config.database,
        max_event_bytes=config.max_event_bytes,
        max_append_bytes=config.max_append_bytes,
        max_append_events=config.max_append_events,
        prepared_statements=config.prepared_statements,
        notifications=config.notifications,
    )


def _outbox(
    filterer: OutboxFiltererStrategy, config: DjangoConfig, registry: EventRegistry
) -> "DjangoOutboxStorageStrategy":
    from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy

    return DjangoOutboxStorageStrategy(
        filterer,
        config.outbox_attempts,
        database=config.database,
        prepared_statements=config.prepared_statements,
        registry=registry,
    )


def _subscription(config: DjangoConfig) -> "DjangoSubscriptionStrategy":
    from eventhex_django_adapter.subscription import DjangoSubscriptionStrategy

    return DjangoSubscriptionStrategy(
        config, lag_warning_after=config.long_transaction_warning_after
    )


class DjangoContainer(containers.DeclarativeContainer):
    """Providers of the Django adapter; ``core`` is event_sourcery's core wired to them.

    Providers:
        core: The composed ``CoreContainer``.
        config: The ``DjangoConfig``; ``DjangoConfig()`` until ``configure`` sets another.
        outbox_strategy: The outbox written by appends; ``None`` until ``with_outbox``.
        django_outbox: The Django outbox strategy that ``with_outbox`` installs.
        storage: The storage strategy (the core scopes it per tenant).
        subscription: The subscription strategy.
    """

    core: Any = providers.Container(CoreContainer)
    config: Any = providers.Object(DjangoConfig())
    django_outbox: Any = providers.Factory(
        _outbox, core.outbox_filterer, config, core.event_registry
    )
    outbox_strategy: Any = providers.Object(None)
    storage: Any = providers.Factory(_storage, core.dispatcher, outbox_strategy, config)
    subscription: Any = providers.Factory(_subscription, config)


DjangoContainer.core.storage.override(DjangoContainer.storage)
DjangoContainer.core.subscription.override(DjangoContainer.subscription)
