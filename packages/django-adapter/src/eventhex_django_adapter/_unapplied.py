"""Which of eventhex's migrations a database lacks, asked cheaply and safely for a system check.

The migrations on disk are those of the installed apps of this package (``eventhex``, and any
other of its apps a project installs), read from their migration packages alone, not from every
app's. The applied ones come from ``django_migrations`` on a connection of its own: a short
connect timeout on PostgreSQL, no effect on the project's connections or transactions, and no
SQLite file created where none exists. A database that cannot be reached answers None.
"""

import os
import pkgutil
from collections.abc import Iterator
from importlib import import_module

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader

__all__ = ["CONNECT_TIMEOUT", "unapplied_migrations"]

CONNECT_TIMEOUT = 3
"""Seconds the check waits for PostgreSQL to accept its connection."""

_PACKAGE = "eventhex_django_adapter"


def unapplied_migrations(alias: str) -> list[str] | None:
    """The eventhex migrations (``label.name``) not applied on ``alias``, in file order.

    Returns:
        The unapplied migrations (empty when all are applied), or None when the database
        cannot be reached or read.
    """
    expected = list(_migrations_on_disk())
    if not expected:
        return []
    applied = _applied(alias, sorted({label for label, _, _ in expected}))
    if applied is None:
        return None
    return [
        f"{label}.{name}"
        for label, name, replaces in expected
        if (label, name) not in applied
        and not (replaces and all(tuple(old) in applied for old in replaces))
    ]


def _migrations_on_disk() -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    for config in apps.get_app_configs():
        if config.name != _PACKAGE and not config.name.startswith(_PACKAGE + "."):
            continue
        module_name, _ = MigrationLoader.migrations_module(config.label)
        if module_name is None:
            continue
        try:
            package = import_module(module_name)
        except ImportError:  # MIGRATION_MODULES turned them off: nothing to apply
            continue
        names = sorted(
            info.name
            for info in pkgutil.iter_modules(getattr(package, "__path__", []))
            if not info.ispkg and not info.name.startswith(("_", "~"))
        )
        for name in names:
            migration = import_module(f"{module_name}.{name}").Migration
            yield config.label, name, list(getattr(migration, "replaces", []))


def _applied(alias: str, labels: list[str]) -> set[tuple[str, str]] | None:
    original = connections[alias]
    name = str(original.settings_dict.get("NAME") or "")
    if original.vendor == "sqlite" and not _sqlite_exists(name):
        return set()
    connection = original.copy()
    options = connection.settings_dict.setdefault("OPTIONS", {})
    options.pop("pool", None)  # one short connection, not a pool of them
    if connection.vendor == "postgresql":
        options["connect_timeout"] = CONNECT_TIMEOUT
    try:
        with connection.cursor() as cursor:
            if "django_migrations" not in connection.introspection.table_names(cursor):
                return set()
            marks = ", ".join(["%s"] * len(labels))
            cursor.execute(
                f"SELECT app, name FROM django_migrations WHERE app IN ({marks})", labels
            )
            return {(str(app), str(migration)) for app, migration in cursor.fetchall()}
    except (DatabaseError, ImproperlyConfigured):  # unreachable or refusing: say nothing
        return None
    finally:
        connection.close()


def _sqlite_exists(name: str) -> bool:
    """Whether a SQLite database named ``name`` is there without creating it."""
    if not name or name == ":memory:" or name.startswith("file:"):
        return True  # in memory, or a URI: only connecting can tell
    return os.path.exists(name)
