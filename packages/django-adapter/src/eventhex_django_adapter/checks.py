"""System checks: the configured database alias exists and runs a supported engine.

Every alias a ``DjangoBackend`` was configured with is checked (``default`` when none was):

* ``eventhex.E001`` the alias is not in ``settings.DATABASES``;
* ``eventhex.E002`` the engine is neither PostgreSQL nor SQLite;
* ``eventhex.E003`` the PostgreSQL server is older than 13 (a database check: it connects, so it
  runs with ``migrate`` or ``check --database <alias>``);
* ``eventhex.W001`` SQLite is not in ``IMMEDIATE`` transaction mode, so concurrent writers can
  fail with "database is locked" instead of waiting their turn;
* ``eventhex.W002`` the PostgreSQL database has moved to another cluster (``pg_dump`` and
  ``pg_restore``, logical replication) and its positions are due a rebase, which the first
  append or read does by itself, or ``manage.py eventhex_rebase`` (a database check; ADR 0010).
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections
from django.db.utils import load_backend

from eventhex_django_adapter._position import position_clock

__all__ = ["MIN_POSTGRESQL", "register", "watch_alias"]

MIN_POSTGRESQL = 130000
"""The oldest supported PostgreSQL server, as ``server_version_num``."""

_SUPPORTED_VENDORS = ("postgresql", "sqlite")
_watched_aliases: set[str] = set()


def watch_alias(alias: str) -> None:
    """Include ``alias`` in the checks (``DjangoBackend.configure`` calls this)."""
    _watched_aliases.add(alias)


def _aliases() -> list[str]:
    return sorted(_watched_aliases or {"default"})


def check_aliases(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every watched alias exists and uses a supported engine."""
    messages: list[checks.CheckMessage] = []
    for alias in _aliases():
        if alias not in settings.DATABASES:
            messages.append(
                checks.Error(
                    f"eventhex is configured with database alias {alias!r}, "
                    "which is not in settings.DATABASES.",
                    hint=f"Add {alias!r} to DATABASES or pass an existing alias: "
                    f"DjangoConfig(database=...). Known aliases: {sorted(settings.DATABASES)}.",
                    id="eventhex.E001",
                )
            )
            continue
        database = settings.DATABASES[alias]
        vendor = _vendor(str(database.get("ENGINE", "")))
        if vendor not in _SUPPORTED_VENDORS:
            messages.append(
                checks.Error(
                    f"Database {alias!r} uses the engine {database.get('ENGINE')!r} "
                    f"({vendor}); eventhex supports PostgreSQL and SQLite only.",
                    hint="Point DjangoConfig(database=...) at a PostgreSQL or SQLite database.",
                    id="eventhex.E002",
                )
            )
        elif vendor == "sqlite" and not _sqlite_is_immediate(database):
            messages.append(
                checks.Warning(
                    f"SQLite database {alias!r} does not use IMMEDIATE transactions; concurrent "
                    "appends can fail with 'database is locked'.",
                    hint=f'Set DATABASES[{alias!r}]["OPTIONS"]["transaction_mode"] = "IMMEDIATE".',
                    id="eventhex.W001",
                )
            )
    return messages


def check_server_version(
    app_configs: Sequence[Any] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Every watched PostgreSQL alias among ``databases`` runs PostgreSQL 13 or newer."""
    messages: list[checks.CheckMessage] = []
    for alias in set(databases or ()) & set(_aliases()) & set(settings.DATABASES):
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        version = int(connection.pg_version)  # type: ignore[attr-defined]
        if version < MIN_POSTGRESQL:
            messages.append(
                checks.Error(
                    f"Database {alias!r} runs PostgreSQL {version // 10000}; eventhex needs "
                    "PostgreSQL 13 or newer (it uses pg_current_xact_id()).",
                    hint="Upgrade the server, or configure eventhex with another alias.",
                    id="eventhex.E003",
                )
            )
    return messages


def check_position_clock(
    app_configs: Sequence[Any] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Every watched PostgreSQL alias among ``databases`` has positions valid on its cluster."""
    messages: list[checks.CheckMessage] = []
    for alias in sorted(set(databases or ()) & set(_aliases()) & set(settings.DATABASES)):
        try:
            clock = position_clock(alias)
        except DatabaseError:  # not migrated yet: the migrate command says so
            continue
        if clock is not None and clock.needs_rebase:
            where = (
                f"from cluster {clock.stored_system_identifier} to {clock.system_identifier}"
                if clock.moved
                else f"to a cluster whose transaction ids ({clock.next_xid}) are behind its events"
            )
            messages.append(
                checks.Warning(
                    f"Database {alias!r} has moved {where}; eventhex positions are due a "
                    "rebase. The first append or read rebases them by itself (reads in "
                    "read-only transactions and on standbys refuse until then).",
                    hint=f"Run: python manage.py eventhex_rebase --database {alias}",
                    id="eventhex.W002",
                )
            )
    return messages


def register() -> None:
    """Register the checks with Django (called from ``AppConfig.ready``)."""
    checks.register(check_aliases, checks.Tags.compatibility)
    checks.register(check_server_version, checks.Tags.database)
    checks.register(check_position_clock, checks.Tags.database)


def _vendor(engine: str) -> str:
    try:
        return str(load_backend(engine).DatabaseWrapper.vendor)
    except ImproperlyConfigured as error:
        return f"cannot be loaded: {error}"


def _sqlite_is_immediate(settings_dict: dict[str, Any]) -> bool:
    options = settings_dict.get("OPTIONS") or {}
    return str(options.get("transaction_mode", "")).upper() in {"IMMEDIATE", "EXCLUSIVE"}
