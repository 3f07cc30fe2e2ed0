"""The event names the store holds, and those no registered event class reads (orphans).

A stored event is read back as the class registered under its name. A name no class reads
(a class renamed without ``__event_name__``, deleted, or defined in a module this process never
imports) makes every read that meets the event fail with ``UnknownEventName``. Renames
registered with :func:`eventhex_core_ports.upcasting.rename` count: a renamed name is read as
the class of its new name. A class at ``__event_version__`` N needs an upcaster from every
version below N that events of its names are stored at; a missing one makes those events fail
with ``UnreachableEventVersion``, so a name with such events counts as an orphan too.
``manage.py eventhex_event_names`` lists the names; the ``eventhex.W301`` database check warns
about orphans.

Finding the names costs one index probe per distinct name on PostgreSQL (the initial migration's
loose index scan), whatever the number of events; SQLite reads ``SELECT DISTINCT``. Versions are
looked at only for a name whose upcaster chain has a gap (a mistake, hence rare): then one query
asks whether any of its events is stored at a version the gap leaves unreadable.

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
from django.db.models import Q
from django.utils.module_loading import autodiscover_modules, import_string
from event_sourcery.event import EventRegistry

from eventhex_core_ports._internal.registry import ExplainingEventRegistry
from eventhex_core_ports.upcasting import (
    EVENT_VERSION_KEY,
    Upcasters,
    default_upcasters,
    event_version,
)
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
        event_class: ``module.QualifiedName`` of the class that reads ``name`` (after
            renames); ``None`` when no class does (an orphan).
        read_as: The name ``name`` is renamed to and read under; ``None`` when not renamed.
        missing_upcasters: The versions below the class's ``__event_version__`` that no
            upcaster starts from, when events of ``name`` are stored at one of them or older
            (then those events cannot be read: an orphan too).
    """

    name: str
    event_class: str | None
    read_as: str | None = None
    missing_upcasters: tuple[int, ...] = ()

    @property
    def readable(self) -> bool:
        """Whether every event stored under ``name`` reaches a class."""
        return self.event_class is not None and not self.missing_upcasters


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


def _stored_below(alias: str, name: str, version: int) -> bool:
    """Whether an event of ``name`` is stored at ``version`` or older (no key: version 1)."""
    key = f"context__{EVENT_VERSION_KEY}"
    older = Q(**{f"{key}__isnull": True}) | Q(**{f"{key}__lte": version})
    return Event.objects.using(alias).filter(older, name=name).exists()


def _stored_name(
    alias: str, registry: EventRegistry, upcasters: Upcasters, name: str
) -> StoredEventName:
    current = upcasters.current_name(name)
    read_as = None if current == name else current
    try:
        event_class = registry.type_for_name(current)
    except KeyError:
        return StoredEventName(name, None, read_as)
    class_name = f"{event_class.__module__}.{event_class.__qualname__}"
    gaps = upcasters.missing_steps(current, event_version(event_class))
    if gaps and _stored_below(alias, name, gaps[-1]):
        return StoredEventName(name, class_name, read_as, tuple(gaps))
    return StoredEventName(name, class_name, read_as)


def event_names(
    alias: str, registry: EventRegistry | None = None, upcasters: Upcasters | None = None
) -> list[StoredEventName]:
    """Every stored event name with the class that reads it, from ``registry`` (by default
    every ``Event`` subclass imported in this process) through the renames and upcasters of
    ``upcasters`` (by default those registered with ``eventhex_core_ports.upcasting``)."""
    registry = registry or ExplainingEventRegistry()
    upcasters = default_upcasters if upcasters is None else upcasters
    names = stored_event_names(alias)
    return [_stored_name(alias, registry, upcasters, name) for name in names]


def orphaned_event_names(
    alias: str, registry: EventRegistry | None = None, upcasters: Upcasters | None = None
) -> list[str]:
    """The stored event names some of whose events no class reads, sorted."""
    return [found.name for found in event_names(alias, registry, upcasters) if not found.readable]
