"""eventhex storage backend for Django: event_sourcery's ports on the Django ORM.

Add ``"eventhex_django_adapter"`` to ``INSTALLED_APPS`` (app label ``eventhex``), run
``migrate``, then::

    from eventhex_django_adapter import DjangoBackend, DjangoConfig

    backend = DjangoBackend().configure(DjangoConfig())

Importing this package does not need ``django.setup()``; the adapter classes that touch models
(``DjangoStorageStrategy``, ``DjangoOutboxStorageStrategy``, ``DjangoKeyStorage``,
``DjangoCursorsDao``) are imported on first access.
"""

from importlib import import_module
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig

if TYPE_CHECKING:
    from eventhex_django_adapter._db import PreparedStatementsUnavailable, SchemaNotMigrated
    from eventhex_django_adapter._subscription.replica import ReplicaLag, replica_lag
    from eventhex_django_adapter.cursors import DjangoCursorsDao
    from eventhex_django_adapter.key_storage import DjangoKeyStorage
    from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy
    from eventhex_django_adapter.storage import DjangoStorageStrategy

__all__ = [
    "DjangoBackend",
    "DjangoConfig",
    "DjangoCursorsDao",
    "DjangoKeyStorage",
    "DjangoOutboxStorageStrategy",
    "DjangoStorageStrategy",
    "PreparedStatementsUnavailable",
    "ReplicaLag",
    "SchemaNotMigrated",
    "__version__",
    "replica_lag",
]

__version__ = _version("eventhex-django-adapter")
"""This package's version (all three eventhex packages share it)."""

_LAZY = {
    "DjangoCursorsDao": "eventhex_django_adapter.cursors",
    "DjangoKeyStorage": "eventhex_django_adapter.key_storage",
    "DjangoOutboxStorageStrategy": "eventhex_django_adapter.outbox",
    "DjangoStorageStrategy": "eventhex_django_adapter.storage",
    "SchemaNotMigrated": "eventhex_django_adapter._db",
    "ReplicaLag": "eventhex_django_adapter._subscription.replica",
    "replica_lag": "eventhex_django_adapter._subscription.replica",
    "PreparedStatementsUnavailable": "eventhex_django_adapter._db",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
