"""``ContainerBackend``: event_sourcery's ``Backend`` API over a dependency-injector container.

Code written against an event_sourcery backend keeps working: ``backend.event_store``,
``backend.outbox``, ``backend.subscriber``, ``backend.in_transaction``, ``backend[Type]`` get and
set, ``in_tenant_mode``, ``with_outbox``, ``with_encryption`` and ``with_context_enrichers``.
Underneath, every component is a provider of the adapter's container, so a test swaps an adapter
with ``backend.container.<provider>.override(...)`` and nothing is monkeypatched.
"""

import copy
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from dependency_injector import containers, providers
from event_sourcery import EventStore, Outbox, TenantId
from event_sourcery.encryption import Encryption
from event_sourcery.event import EventContextEnricher, EventRegistry, Serde
from event_sourcery.exceptions import ConflictingContextComponent
from event_sourcery.in_transaction import Dispatcher, Listeners
from event_sourcery.interfaces import (
    EncryptionKeyStorageStrategy,
    EncryptionStrategy,
    OutboxFiltererStrategy,
    OutboxStorageStrategy,
    StorageStrategy,
    SubscriptionStrategy,
)
from event_sourcery.outbox import no_filter
from event_sourcery.subscription import PositionPhase

from eventhex_core_ports.upcasting import Upcasters

__all__ = ["ContainerBackend"]

T = TypeVar("T")
C = TypeVar("C", bound=containers.DeclarativeContainer)

# Where each event_sourcery type lives in CoreContainer: (provider read, provider written).
_CORE_TYPES: Mapping[type, tuple[str, str]] = {
    TenantId: ("tenant_id", "tenant_id"),
    EventRegistry: ("event_registry", "event_registry"),
    EncryptionStrategy: ("encryption_strategy", "encryption_strategy"),
    EncryptionKeyStorageStrategy: ("tenant_key_storage", "key_storage"),
    Encryption: ("encryption", "encryption"),
    Serde: ("serde", "serde"),
    StorageStrategy: ("tenant_storage", "storage"),
    SubscriptionStrategy: ("subscription", "subscription"),
    OutboxFiltererStrategy: ("outbox_filterer", "outbox_filterer"),
    OutboxStorageStrategy: ("outbox_storage", "outbox_storage"),
    EventStore: ("event_store", "event_store"),
    Outbox: ("outbox", "outbox"),
    PositionPhase: ("subscriber", "subscriber"),
    Listeners: ("listeners", "listeners"),
    Dispatcher: ("dispatcher", "dispatcher"),
    Upcasters: ("upcasters", "upcasters"),
}


class ContainerBackend(Generic[C]):
    """A drop-in for event_sourcery's ``TransactionalBackend``, backed by a container.

    Subclasses name their container class (which composes ``CoreContainer`` as the provider
    ``core``) and may map more types to their own providers in ``own_types``.

    Args:
        container: The container to use; a fresh one of ``container_class`` when omitted.
    """

    container_class: ClassVar[type[containers.DeclarativeContainer]]
    own_types: ClassVar[Mapping[type, str]] = {}

    def __init__(self, container: C | None = None) -> None:
        self._container: C = container or cast(C, self.container_class())
        self._extras: dict[type, object] = {}

    @property
    def container(self) -> C:
        """The dependency-injector container; override its providers to swap components."""
        return self._container

    @property
    def core(self) -> Any:
        """The composed ``CoreContainer`` instance."""
        return cast(Any, self._container).core

    # --- event_sourcery's Backend API -------------------------------------------------------

    @property
    def event_store(self) -> EventStore:
        """The ``EventStore`` for this backend's tenant."""
        return cast(EventStore, self.core.event_store())

    @property
    def outbox(self) -> Outbox:
        """The ``Outbox``; it publishes nothing until ``with_outbox`` was called."""
        return cast(Outbox, self.core.outbox())

    @property
    def subscriber(self) -> PositionPhase:
        """A new subscription builder: ``subscriber.start_from(position)...build_iter(...)``."""
        return cast(PositionPhase, self.core.subscriber())

    @property
    def in_transaction(self) -> Listeners:
        """Listeners called inside the appending transaction (shared by all tenant views)."""
        return cast(Listeners, self.core.listeners())

    def __getitem__(self, type_: type[T]) -> T:
        if type_ in self._extras:
            value = self._extras[type_]
            if isinstance(value, type_):
                return value
            return cast(Callable[..., T], value)(self)
        return cast(T, self._provider(type_, write=False)())

    def __setitem__(self, type_: type[T], value: T | Callable[[Self], T]) -> None:
        """Bind ``type_`` to an instance, or to a callable that builds it from this backend."""
        if type_ not in _CORE_TYPES and type_ not in self.own_types:
            self._extras[type_] = value
            return
        provider = self._provider(type_, write=True)
        replacement = (
            providers.Object(value)
            if _is_instance(value, type_)
            else providers.Callable(cast(Callable[..., T], value), self)
        )
        provider.override(replacement)

    def get(self, type_: type[T], default: T | None = None) -> T | None:
        """Like ``backend[type_]``, but ``default`` for a type nothing is bound to."""
        if type_ in self._extras or type_ in _CORE_TYPES or type_ in self.own_types:
            return self[type_]
        return default

    def in_tenant_mode(self, tenant_id: TenantId) -> Self:
        """An independent copy of this backend that reads and writes as ``tenant_id``.

        The copy shares backend-wide state (singletons: listeners, event registry, the adapter's
        stores) and nothing else: configuring the copy leaves this backend unchanged.
        """
        clone = copy.copy(self)
        shared: dict[int, Any] = {id(self): clone}
        for singleton in self._container.traverse(types=[providers.Singleton]):
            # The copy resolves to the same instance, yet overriding it leaves this backend alone.
            shared[id(singleton)] = providers.Callable(singleton)
        clone._container = copy.deepcopy(self._container, shared)
        clone._extras = dict(self._extras)
        clone.core.tenant_id.override(providers.Object(tenant_id))
        return clone

    def with_outbox(self, filterer: OutboxFiltererStrategy = no_filter) -> Self:
        """Record every appended event the ``filterer`` accepts in the outbox."""
        raise NotImplementedError(f"{type(self).__name__} has no outbox")

    def with_encryption(
        self,
        strategy: EncryptionStrategy,
        key_storage: EncryptionKeyStorageStrategy,
    ) -> Self:
        """Encrypt ``Encrypted`` fields with ``strategy``; keys per tenant in ``key_storage``."""
        self.core.encryption_strategy.override(providers.Object(strategy))
        self.core.key_storage.override(providers.Object(key_storage))
        return self

    def with_context_enrichers(self, *enrichers: EventContextEnricher) -> Self:
        """Add context components to every appended event; one enricher per component name."""
        names: set[str] = set()
        for enricher in enrichers:
            name = enricher.component_type.__context_name__
            if name in names:
                raise ConflictingContextComponent(name)
            names.add(name)
        self.core.context_enrichers.override(providers.Object(tuple(enrichers)))
        return self

    def _provider(self, type_: type, *, write: bool) -> Any:
        if type_ in self.own_types:
            path = self.own_types[type_]
            target: Any = self._container
        elif type_ in _CORE_TYPES:
            path = _CORE_TYPES[type_][1 if write else 0]
            target = self.core
        else:
            raise KeyError(
                f"Nothing is bound to {type_.__name__}: set backend[{type_.__name__}] first"
            )
        for part in path.split("."):
            target = getattr(target, part)
        return target


def _is_instance(value: object, type_: type) -> bool:
    try:
        return isinstance(value, type_)
    except TypeError:  # non-runtime-checkable protocols
        return not callable(value)
