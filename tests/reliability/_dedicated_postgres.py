"""A PostgreSQL server of one test's own, which the test may restart or crash at will.

It is a durable ``ThrowawayPostgres`` (``synchronous_commit`` on, so a crash loses nothing that
was acknowledged) registered as a Django alias at runtime.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections
from eventhex_devtools.postgres import ThrowawayPostgres

__all__ = ["dedicated_postgres"]


@contextmanager
def dedicated_postgres(alias: str) -> Iterator[ThrowawayPostgres]:
    """Start a server, register ``alias`` for its ``postgres`` database, clean up after."""
    cluster = ThrowawayPostgres(prefix="eventhex-restart-", durable=True, max_connections=50)
    server = cluster.start()
    raw = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "HOST": server.host,
        "PORT": str(server.port),
        "USER": server.user,
    }
    configured = connections.configure_settings({"default": {}, alias: raw})[alias]
    connections.settings[alias] = configured
    try:
        yield cluster
    finally:
        connections[alias].close()
        del connections.settings[alias]
        cluster.close()
