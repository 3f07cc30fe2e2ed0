"""Reading ``settings.EVENTHEX_PROJECTIONS`` and ``EVENTHEX_PROJECTIONS_BACKEND``."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from event_sourcery.event import EventRegistry

from eventhex_core_ports.upcasting import Upcasters
from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.projections._projection import Projection

__all__ = [
    "BACKEND_SETTING",
    "SETTING",
    "Registered",
    "event_names",
    "load_projections",
    "projections_backend",
    "registered",
]

SETTING = "EVENTHEX_PROJECTIONS"
BACKEND_SETTING = "EVENTHEX_PROJECTIONS_BACKEND"


@dataclass(frozen=True)
class Registered:
    """One entry of the setting: its dotted path, and the class or why it is unusable."""

    path: str
    cls: type[Projection] | None
    error: str = ""


def _paths() -> list[Any]:
    value = getattr(settings, SETTING, [])
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ImproperlyConfigured(
            f"settings.{SETTING} must be a list of dotted paths to Projection classes, "
            f"e.g. ['shop.projections.Orders'], got {value!r}"
        )
    return list(value)


def registered() -> list[Registered]:
    """Every entry of ``settings.EVENTHEX_PROJECTIONS``, imported where possible."""
    found: list[Registered] = []
    for path in _paths():
        if not isinstance(path, str):
            found.append(Registered(repr(path), None, "is not a dotted path string"))
            continue
        try:
            cls = import_string(path)
        except ImportError as error:
            found.append(Registered(path, None, f"cannot be imported: {error}"))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Projection)):
            found.append(Registered(path, None, "is not a subclass of Projection"))
            continue
        found.append(Registered(path, cls))
    return found


def load_projections(names: Sequence[str] = ()) -> list[Projection]:
    """Instances of the registered projections (only ``names``, when given), in setting order.

    Several versions of one name may be registered (blue/green); each is an instance.

    Raises:
        ImproperlyConfigured: An entry is unusable, two share a name, or a name is unknown.
    """
    classes: dict[tuple[str, int], type[Projection]] = {}
    for entry in registered():
        if entry.cls is None:
            raise ImproperlyConfigured(f"settings.{SETTING}: {entry.path} {entry.error}")
        problems = entry.cls.problems()
        if problems:
            raise ImproperlyConfigured(f"settings.{SETTING}: {'; '.join(problems)}")
        key = (entry.cls.name, entry.cls.version)
        if key in classes:
            raise ImproperlyConfigured(
                f"settings.{SETTING}: two projections are named {entry.cls.name!r} "
                f"({classes[key].__qualname__} and {entry.cls.__qualname__}) with version "
                f"{entry.cls.version}; names must be unique (two versions of one read model "
                "deployed blue/green differ in their version)"
            )
        classes[key] = entry.cls
    known = list(dict.fromkeys(name for name, _ in classes))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ImproperlyConfigured(
            f"unknown projection(s) {', '.join(map(repr, unknown))}; registered in "
            f"settings.{SETTING}: {', '.join(map(repr, known)) or 'none'}"
        )
    wanted = set(names or known)
    return [cls() for (name, _), cls in classes.items() if name in wanted]


def projections_backend() -> DjangoBackend:
    """The backend the projections read from.

    ``settings.EVENTHEX_PROJECTIONS_BACKEND`` is the dotted path of a ``DjangoBackend`` or of a
    callable returning one (for example the function your app builds its backend with); without
    it, ``DjangoBackend().configure()`` on the ``default`` database.
    """
    path = getattr(settings, BACKEND_SETTING, None)
    if path is None:
        return DjangoBackend().configure(DjangoConfig())
    try:
        value = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"settings.{BACKEND_SETTING} = {path!r}: {error}") from error
    backend = value if isinstance(value, DjangoBackend) else value()
    if not isinstance(backend, DjangoBackend):
        raise ImproperlyConfigured(
            f"settings.{BACKEND_SETTING} = {path!r} gave {type(backend).__name__}; "
            "point it at a DjangoBackend or a function that returns one"
        )
    return backend


def event_names(backend: DjangoBackend, projection: Projection) -> tuple[str, ...] | None:
    """The stored names of the event types a projection reads, with the old names renamed to
    them (None: not selected by type)."""
    types = projection.selected_types()
    if types is None:
        return None
    registry, upcasters = backend[EventRegistry], backend[Upcasters]
    names = [registry.name_for_type(t) for t in types]
    return tuple(names + [old for name in names for old in upcasters.old_names(name)])
