"""``DjangoBackend``: event_sourcery's backend API on the Django ORM."""

from typing import ClassVar, Self

from dependency_injector import providers
from event_sourcery.interfaces import OutboxFiltererStrategy
from event_sourcery.outbox import no_filter

from eventhex_core_ports.backend import ContainerBackend
from eventhex_django_adapter import checks
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.container import DjangoContainer

__all__ = ["DjangoBackend"]


class DjangoBackend(ContainerBackend[DjangoContainer]):
    """An event_sourcery backend that stores everything in Django's database.

    A drop-in for ``event_sourcery_django.DjangoBackend``::

        backend = DjangoBackend().configure(DjangoConfig(outbox_attempts=3))
        backend.event_store.append(event, stream_id=StreamId(name="order-1", category="order"))

    Like event_sourcery's own backends, one that was never configured works with the defaults
    (``DjangoConfig()``), so code and tests written for ``event_sourcery_django`` need no change.
    """

    container_class = DjangoContainer
    own_types: ClassVar = {DjangoConfig: "config"}

    def configure(self, config: DjangoConfig | None = None) -> Self:
        """Set the configuration; ``None`` means ``DjangoConfig()``.

        Args:
            config: How this backend uses the database.

        Returns:
            This backend, for chaining.

        Raises:
            ImproperlyConfigured: ``config.database`` or ``config.subscription_database`` is
                not in ``settings.DATABASES``.
        """
        config = config or DjangoConfig()
        checks.check_configured_alias(config.database)
        if config.subscription_database is not None:
            checks.check_configured_alias(config.subscription_database, "subscription_database")
        self.container.config.override(providers.Object(config))
        return self

    def with_outbox(self, filterer: OutboxFiltererStrategy = no_filter) -> Self:
        """Write every appended event that ``filterer`` accepts to the outbox table.

        The rows commit with the append; ``backend.outbox.run(publisher)`` publishes them, and
        an entry dies after ``DjangoConfig.outbox_attempts`` failed attempts.

        Args:
            filterer: Decides which events enter the outbox (all of them by default).

        Returns:
            This backend, for chaining.
        """
        self.core.outbox_filterer.override(providers.Object(filterer))
        self.container.outbox_strategy.override(self.container.django_outbox)
        self.core.outbox_storage.override(self.container.django_outbox)
        return self
