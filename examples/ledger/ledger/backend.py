"""The ledger's eventhex backend: one per process, configured from ``settings.EVENTHEX``.

``backend.with_outbox()`` makes every append also write an outbox row in the same transaction;
the separately running ``eventhex-relay`` publishes those rows.
"""

from functools import cache

from django.conf import settings
from event_sourcery.event_sourcing import Repository

from eventhex_django_adapter import DjangoBackend, DjangoConfig
from ledger.accounts import Account

__all__ = ["accounts", "backend"]


@cache
def backend() -> DjangoBackend:
    """The configured backend, with the outbox on."""
    config = DjangoConfig(**getattr(settings, "EVENTHEX", {}))
    return DjangoBackend().configure(config).with_outbox()


def accounts() -> Repository[Account]:
    """The repository that loads and saves ``Account`` aggregates."""
    return Repository[Account](backend().event_store)
