"""``InMemoryBackend``: the reference adapter, built from ``CoreContainer``."""

from typing import Self

from dependency_injector import containers, providers
from event_sourcery.interfaces import OutboxFiltererStrategy
from event_sourcery.outbox import no_filter
from pydantic import BaseModel, ConfigDict, PositiveInt

from eventhex_core_ports._internal.validation import (
    DEFAULT_MAX_APPEND_BYTES,
    DEFAULT_MAX_APPEND_EVENTS,
    DEFAULT_MAX_EVENT_BYTES,
)
from eventhex_core_ports.backend import ContainerBackend
from eventhex_core_ports.container import CoreContainer
from eventhex_core_ports.in_memory._store import InMemoryStore
from eventhex_core_ports.in_memory.outbox import InMemoryOutboxStorageStrategy
from eventhex_core_ports.in_memory.relay_source import InMemoryOutboxSource
from eventhex_core_ports.in_memory.storage import InMemoryStorageStrategy
from eventhex_core_ports.in_memory.subscription import InMemorySubscriptionStrategy

__all__ = ["InMemoryBackend", "InMemoryConfig", "InMemoryContainer"]


class InMemoryConfig(BaseModel):
    """Configuration of an ``InMemoryBackend``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outbox_attempts: PositiveInt = 3
    """Failed publish attempts after which an outbox entry is no longer handed out."""

    max_event_bytes: PositiveInt = DEFAULT_MAX_EVENT_BYTES
    """The largest event (compact JSON data plus context, in bytes) appends accept."""

    max_append_bytes: PositiveInt = DEFAULT_MAX_APPEND_BYTES
    """The most payload bytes one append accepts, all its events together."""

    max_append_events: PositiveInt = DEFAULT_MAX_APPEND_EVENTS
    """The most events one append accepts."""


class InMemoryContainer(containers.DeclarativeContainer):
    """Composition root of the in-memory adapter."""

    core = providers.Container(CoreContainer)
    config: providers.Provider[InMemoryConfig] = providers.Object(InMemoryConfig())
    store = providers.Singleton(InMemoryStore)
    outbox_strategy: providers.Provider[InMemoryOutboxStorageStrategy | None] = providers.Object(
        None
    )
    storage = providers.Factory(
        InMemoryStorageStrategy,
        store=store,
        dispatcher=core.dispatcher,
        outbox=outbox_strategy,
        max_event_bytes=config.provided.max_event_bytes,
        max_append_bytes=config.provided.max_append_bytes,
        max_append_events=config.provided.max_append_events,
    )
    subscription = providers.Factory(InMemorySubscriptionStrategy, store=store)
    relay_source = providers.Singleton(InMemoryOutboxSource, store=store)
    """The relay's source over this backend's outbox."""


InMemoryContainer.core.storage.override(InMemoryContainer.storage)
InMemoryContainer.core.subscription.override(InMemoryContainer.subscription)


class InMemoryBackend(ContainerBackend[InMemoryContainer]):
    """A complete event_sourcery backend in process memory, for tests and prototypes.

    Example:
        >>> backend = InMemoryBackend().configure()
        >>> backend.event_store.position
        0
    """

    container_class = InMemoryContainer
    own_types = {InMemoryConfig: "config", InMemoryStore: "store"}

    def configure(self, config: InMemoryConfig | None = None) -> Self:
        """Set the configuration (``InMemoryConfig()`` when omitted); returns the backend."""
        self.container.config.override(providers.Object(config or InMemoryConfig()))
        return self

    def with_outbox(self, filterer: OutboxFiltererStrategy = no_filter) -> Self:
        """Put every appended event that ``filterer`` accepts into the outbox."""
        self.core.outbox_filterer.override(providers.Object(filterer))
        strategy = providers.Singleton(
            InMemoryOutboxStorageStrategy,
            store=self.container.store,
            filterer=self.core.outbox_filterer,
            max_attempts=self.container.config.provided.outbox_attempts,
        )
        self.container.outbox_strategy.override(strategy)
        self.core.outbox_storage.override(strategy)
        return self
