"""Databases that ``migrate`` never ran on, made Django databases for one test."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections
from django.test import override_settings
from eventhex_devtools.postgres import PostgresServer

__all__ = ["OnlyTo", "database", "postgres_settings"]


class OnlyTo:
    """A database router that sends the eventhex apps' migrations to ``alias`` only."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool | None:
        return db == self.alias if app_label.startswith("eventhex") else None


@contextmanager
def database(alias: str, raw: dict[str, Any]) -> Iterator[str]:
    """Make ``raw`` the Django database ``alias`` (settings and connections) in the block."""
    configured = connections.configure_settings({"default": {}, alias: raw})[alias]
    connections.settings[alias] = configured
    try:
        with override_settings(DATABASES={**settings.DATABASES, alias: configured}):
            yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def postgres_settings(server: PostgresServer, name: str, port: int | None = None) -> dict[str, Any]:
    """Django's settings for database ``name`` on ``server`` (or on ``port`` instead)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "HOST": server.host,
        "PORT": str(port or server.port),
        "USER": server.user,
    }
