"""The event names the store holds, and those no registered event class reads (orphans).

A stored event is read back as the class registered under its name. A name no class reads
(a class renamed without ``__event_name__``, deleted, or defined in a module this process never
imports) makes every read that meets the event fail with ``UnknownEventName``.
``manage.py eventhex_event_names`` lists the names; the ``eventhex.W301`` database check warns
about orphans.

Finding the names costs one index probe per distinct name on PostgreSQL (the initial migration's
loose index scan), whatever the number of events; SQLite reads ``SELECT DISTINCT``.

Which classes exist is what event_sourcery's registry finds in this process: every imported
``Event`` subclass. :func:`import_event_modules` first imports each installed app's ``events``
module (as the admin imports ``admin`` modules) and the projections of
``settings.EVENTHEX_PROJECTIONS``, which import the events they handle.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.db import connections
from django.utils.module_loading import autodiscover_modules, import_string
from event_sourcery.event import EventRegistry

from eventhex_core_ports._internal.registry import ExplainingEventRegistry
from eventhex_django_adapter.models import Event

__all__ = [
    "StoredEventName",
    "event_names",
    "import_event_modules",
    "orphaned_event_names",
    "stored_event_names",
]


@dataclass(frozen=True)
class StoredEventName:
    """One name events are stored under, and the class that reads them.

    Attributes:
        name: The stored event name.
        event_class: ``module.QualifiedName`` of the class registered under ``name``; ``None``
            when no class is (an orphan).
    """

    name: str
    event_class: str | None


def stored_event_names(alias: str) -> list[str]:
    """Every distinct event name stored in database ``alias``, sorted."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT name FROM eventhex_event_names() AS name")
        else:
            cursor.execute(f"SELECT DISTINCT name FROM {Event._meta.db_table}")
        return sorted(row[0] for row in cursor.fetchall())


def import_event_modules(modules: Sequence[str] = ()) -> None:
    """Import what defines event classes: every installed app's ``events`` module, the
    registered projections, and ``modules``.

    Raises:
        ImportError: One of ``modules`` cannot be imported (the others are imported as far as
            they can be; the projections' checks report theirs).
    """
    autodiscover_modules("events")
    projections = getattr(settings, "EVENTHEX_PROJECTIONS", [])
    for path in projections if isinstance(projections, list | tuple) else []:
        try:
            import_string(str(path))
        except ImportError:
            continue  # eventhex.E102 names it
    for module in modules:
        import_module(module)


def _class_name(registry: EventRegistry, name: str) -> str | None:
    try:
        event_class = registry.type_for_name(name)
    except KeyError:
        return None
    return f"{event_class.__module__}.{event_class.__qualname__}"


def event_names(alias: str, registry: EventRegistry | None = None) -> list[StoredEventName]:
    """Every stored event name with the class that reads it, from ``registry`` (by default
    every ``Event`` subclass imported in this process)."""
    registry = registry or ExplainingEventRegistry()
    names = stored_event_names(alias)
    return [StoredEventName(name, _class_name(registry, name)) for name in names]


def orphaned_event_names(alias: str, registry: EventRegistry | None = None) -> list[str]:
    """The stored event names no class in ``registry`` reads, sorted."""
    return [found.name for found in event_names(alias, registry) if found.event_class is None]
