"""System checks and the configuration check: eventhex's databases run a supported engine.

The system checks look at the aliases that hold eventhex's tables, read from the settings: the
aliases the database routers let the ``eventhex`` app migrate to, or ``default`` when
``DATABASE_ROUTERS`` is empty:

* ``eventhex.E002`` the engine is neither PostgreSQL nor SQLite;
* ``eventhex.E003`` the PostgreSQL server is older than 13 (a database check: it connects, so it
  runs with ``migrate`` or ``check --database <alias>``, for those aliases);
* ``eventhex.W001`` SQLite is not in ``IMMEDIATE`` transaction mode, so concurrent writers can
  fail with "database is locked" instead of waiting their turn;
* ``eventhex.W003`` eventhex migrations are not applied to the database: run ``migrate``. It
  runs with ``manage.py check``, ``runserver`` and the other commands that run the checks
  without naming databases; ``migrate`` itself and the test runner name them and migrate
  right after, so it stays quiet there. It reads ``django_migrations`` on a connection of its
  own with a short connect timeout, and says nothing when the database cannot be reached;
* ``eventhex.W002`` the PostgreSQL database has moved to another cluster (``pg_dump`` and
  ``pg_restore``, logical replication) and its positions are due a rebase, which the first
  append or read does by itself, or ``manage.py eventhex_rebase`` (a database check; ADR 0010);
* ``eventhex.W301`` the database stores events under names no registered event class reads,
  so reads that meet them fail with ``UnknownEventName`` (a database check; see
  ``manage.py eventhex_event_names``);
* ``eventhex.E004`` ``EVENTHEX_PROJECTIONS`` names projections but their app,
  ``eventhex_django_adapter.projections``, is not installed (no tables, no runner command).

:func:`check_configured_alias` (``DjangoBackend.configure`` calls it) rejects an alias that is not
in ``settings.DATABASES`` at once.
"""

import sys
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router, transaction
from django.db.utils import load_backend

from eventhex_django_adapter._position_clock import position_clock
from eventhex_django_adapter._unapplied import unapplied_migrations

__all__ = ["MIN_POSTGRESQL", "check_configured_alias", "register"]

MIN_POSTGRESQL = 130000
"""The oldest supported PostgreSQL server, as ``server_version_num``."""

_SUPPORTED_VENDORS = ("postgresql", "sqlite")


def check_configured_alias(alias: str, field: str = "database") -> None:
    """Reject a ``DjangoConfig`` alias that names no database (once settings are loaded).

    Args:
        alias: The alias to look up.
        field: The ``DjangoConfig`` field it came from, for the message.

    Raises:
        ImproperlyConfigured: ``alias`` is not in ``settings.DATABASES``.
    """
    if settings.configured and alias not in settings.DATABASES:
        raise ImproperlyConfigured(
            f"DjangoConfig({field}={alias!r}) names no database: {alias!r} is not in "
            f"settings.DATABASES (known aliases: {sorted(settings.DATABASES)}); add it to "
            "DATABASES or pass an existing alias"
        )


def _eventhex_aliases(candidates: Iterable[str]) -> list[str]:
    """The ``candidates`` in ``settings.DATABASES`` that the routers let eventhex migrate to."""
    known = [alias for alias in candidates if alias in settings.DATABASES]
    return sorted(alias for alias in known if router.allow_migrate(alias, "eventhex"))


def _aliases() -> list[str]:
    if settings.DATABASE_ROUTERS:
        return _eventhex_aliases(settings.DATABASES)
    return _eventhex_aliases(["default"])


def check_aliases(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every alias that holds eventhex's tables uses a supported engine."""
    messages: list[checks.CheckMessage] = []
    for alias in _aliases():
        database = settings.DATABASES[alias]
        vendor = _vendor(str(database.get("ENGINE", "")))
        if vendor not in _SUPPORTED_VENDORS:
            messages.append(
                checks.Error(
                    f"Database {alias!r} uses the engine {database.get('ENGINE')!r} "
                    f"({vendor}); eventhex supports PostgreSQL and SQLite only.",
                    hint="Point DjangoConfig(database=...) at a PostgreSQL or SQLite database "
                    "and route the eventhex app's migrations there, not to this one.",
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
    """Every PostgreSQL alias among ``databases`` that eventhex migrates to runs PostgreSQL 13+."""
    messages: list[checks.CheckMessage] = []
    for alias in _eventhex_aliases(databases or ()):
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
    """Every PostgreSQL alias among ``databases`` that eventhex migrates to has positions valid
    on its cluster."""
    messages: list[checks.CheckMessage] = []
    for alias in _eventhex_aliases(databases or ()):
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


def check_migrations_applied(
    app_configs: Sequence[Any] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Every alias that holds eventhex's tables has its migrations applied; quiet in
    ``manage.py migrate`` and ``manage.py test``, which apply them next.

    The command is told by ``sys.argv``: Django 6 hands every check the list of all databases
    whether or not the command named any, so ``databases`` cannot tell ``check`` from
    ``migrate``.
    """
    if _migrating():
        return []
    messages: list[checks.CheckMessage] = []
    for alias in _aliases():
        if _vendor(str(settings.DATABASES[alias].get("ENGINE", ""))) not in _SUPPORTED_VENDORS:
            continue  # E002 says what is wrong there
        missing = unapplied_migrations(alias)
        if not missing:
            continue
        command = "python manage.py migrate" + (
            "" if alias == "default" else f" --database {alias}"
        )
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        # Without an initial migration there are no tables; a later one is an upgrade step.
        effect = (
            "appends, reads, the relay and the projection runner fail until they are applied"
            if any(name.endswith(".0001_initial") for name in missing)
            else f"the eventhex version installed expects {'it' if len(missing) == 1 else 'them'}"
        )
        messages.append(
            checks.Warning(
                f"Database {alias!r} lacks {len(missing)} eventhex migration"
                f"{'' if len(missing) == 1 else 's'} ({shown}): {effect}.",
                hint=f"Run `{command}`.",
                id="eventhex.W003",
            )
        )
    return messages


def _migrating() -> bool:
    """Whether this process is ``manage.py migrate`` or ``manage.py test``."""
    return len(sys.argv) > 1 and sys.argv[1] in ("migrate", "test")


def _orphans(alias: str) -> list[str] | None:
    """The orphaned names in ``alias``; ``None`` before the migrations that hold them ran."""
    from eventhex_django_adapter.event_names import orphaned_event_names
    from eventhex_django_adapter.models import Event

    connection = connections[alias]
    if Event._meta.db_table not in connection.introspection.table_names():
        return None
    try:
        with transaction.atomic(using=alias):  # a failure must not break a caller's transaction
            return orphaned_event_names(alias)
    except DatabaseError:  # not migrated yet: the migrate command says so
        return None


def check_event_names(
    app_configs: Sequence[Any] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Every event name stored in the ``databases`` eventhex migrates to has a class."""
    from eventhex_django_adapter.event_names import import_event_modules

    aliases = _eventhex_aliases(databases or ())
    if aliases:
        import_event_modules()
    messages: list[checks.CheckMessage] = []
    for alias in aliases:
        orphans = _orphans(alias)
        if not orphans:
            continue
        shown = ", ".join(repr(name) for name in orphans[:10])
        more = f" and {len(orphans) - 10} more" if len(orphans) > 10 else ""
        messages.append(
            checks.Warning(
                f"Database {alias!r} stores events under {len(orphans)} name(s) no registered "
                f"event class reads (through renames and upcasters): {shown}{more}. Reads that "
                "meet them fail with UnknownEventName or UnreachableEventVersion, and "
                "projections park or stop there.",
                hint="Give the class that should read each name that __event_name__ (or "
                "rename() the old name to it) and register an @upcaster from each version below "
                "its __event_version__, in a module this process imports (an installed app's "
                "events.py is imported for this check). List them: python manage.py "
                f"eventhex_event_names --orphans --database {alias}",
                id="eventhex.W301",
            )
        )
    return messages


def register() -> None:
    """Register the checks with Django (called from ``AppConfig.ready``)."""
    checks.register(check_aliases, checks.Tags.compatibility)
    checks.register(check_migrations_applied)
    checks.register(check_server_version, checks.Tags.database)
    checks.register(check_position_clock, checks.Tags.database)
    checks.register(check_projections_app, checks.Tags.compatibility)
    checks.register(check_event_names, checks.Tags.database)


PROJECTIONS_APP = "eventhex_django_adapter.projections"
"""The projections' Django app, installed next to the core app when a project has projections."""


def check_projections_app(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``eventhex.E004``: projections are configured but their app is not installed."""
    from django.apps import apps

    if not getattr(settings, "EVENTHEX_PROJECTIONS", None) or apps.is_installed(PROJECTIONS_APP):
        return []
    return [
        checks.Error(
            "EVENTHEX_PROJECTIONS names projections, but their app is not installed: it holds "
            "their checkpoints, parked events and the eventhex_projections command.",
            hint=f'Add "{PROJECTIONS_APP}" to INSTALLED_APPS, then run "manage.py migrate".',
            id="eventhex.E004",
        )
    ]


def _vendor(engine: str) -> str:
    try:
        return str(load_backend(engine).DatabaseWrapper.vendor)
    except ImproperlyConfigured as error:
        return f"cannot be loaded: {error}"


def _sqlite_is_immediate(settings_dict: dict[str, Any]) -> bool:
    options = settings_dict.get("OPTIONS") or {}
    return str(options.get("transaction_mode", "")).upper() in {"IMMEDIATE", "EXCLUSIVE"}
