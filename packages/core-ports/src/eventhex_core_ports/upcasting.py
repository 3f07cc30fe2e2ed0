"""Schema evolution: events stored by older versions of their classes, read as the current ones.

Stored events are never rewritten. An event class states its schema version with
``__event_version__`` (an int, default 1); every append stores the class's current version with
the event. On every read path (stream loads, snapshots, subscriptions, the projection runner,
``Outbox.run``) a stored event whose name was renamed is read as the class now registered under
the new name, and a payload stored at an older version goes through the registered upcasters,
one version at a time, before it is validated into the class::

    from eventhex_core_ports.upcasting import rename, upcaster

    rename("shop.OrderCreated", "shop.OrderPlaced")

    @upcaster("shop.OrderPlaced", from_version=1)
    def add_currency(data: dict) -> dict:
        return {**data, "currency": "EUR"}

Upcasters are registered under the current name (after renames) and run in version order;
appends never run them. The functions above register into :data:`default_upcasters`, which
every backend uses unless given another registry (``backend[Upcasters] = Upcasters()``).
Register at import time, next to the event classes, before the first read: a decoder
remembers what it found for a name.

The version is stored in the event's context under :data:`EVENT_VERSION_KEY`, only when it is
not 1, so the stored form of version-1 events (every event stored before this existed) is
unchanged. See ``docs/schema-evolution.md``.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from eventhex_core_ports.errors import InvalidUpcaster, UnreachableEventVersion

__all__ = [
    "EVENT_VERSION_KEY",
    "Upcast",
    "Upcasters",
    "default_upcasters",
    "event_version",
    "rename",
    "upcaster",
]

EVENT_VERSION_KEY = "event_version"
"""The stored context key holding an event's schema version (absent: version 1)."""

Upcast = Callable[[dict[str, Any]], dict[str, Any]]
"""An upcaster: the payload of version N (a dict it may change) to the payload of N + 1."""

F = TypeVar("F", bound=Upcast)


def event_version(event_type: type) -> int:
    """The schema version ``event_type`` states with ``__event_version__`` (1 when it does not).

    Raises:
        InvalidUpcaster: ``__event_version__`` is not an int of at least 1.
    """
    version = getattr(event_type, "__event_version__", 1)
    if type(version) is not int or version < 1:
        raise InvalidUpcaster(
            f"{event_type.__qualname__}.__event_version__ is {version!r}; it must be an int of "
            "at least 1 (1 is the default: the version of events stored before it was set)."
        )
    return version


class Upcasters:
    """A registry of renames and upcasters, consulted wherever a stored event is decoded."""

    def __init__(self) -> None:
        self._steps: dict[str, dict[int, Upcast]] = {}
        self._renames: dict[str, str] = {}

    def upcaster(self, name: str, *, from_version: int) -> Callable[[F], F]:
        """Register the decorated function as the step from ``from_version`` to the next.

        Args:
            name: The event's current name (after renames).
            from_version: The stored version the function reads; it returns version + 1.

        Raises:
            InvalidUpcaster: ``from_version`` is not an int of at least 1, or ``name`` already
                has a step from that version.
        """

        def register(function: F) -> F:
            self.add_upcaster(name, from_version, function)
            return function

        return register

    def add_upcaster(self, name: str, from_version: int, function: Upcast) -> None:
        """Register ``function`` as ``name``'s step from ``from_version`` (see :meth:`upcaster`)."""
        if type(from_version) is not int or from_version < 1:
            raise InvalidUpcaster(
                f"Upcaster {function.__qualname__} for {name!r}: from_version is "
                f"{from_version!r}; it must be an int of at least 1."
            )
        steps = self._steps.setdefault(name, {})
        if from_version in steps:
            raise InvalidUpcaster(
                f"{name!r} already has an upcaster from version {from_version} "
                f"({steps[from_version].__qualname__}); register one function per step."
            )
        steps[from_version] = function

    def rename(self, old: str, new: str) -> None:
        """Read events stored under ``old`` as the class registered under ``new``.

        Renames chain (``a`` to ``b``, then ``b`` to ``c``) and win over a class still
        registered under the old name. Versions continue across a rename: register the
        upcasters under the new name.

        Raises:
            InvalidUpcaster: ``old`` is already renamed to another name, or the rename would
                make a cycle.
        """
        if self._renames.get(old, new) != new:
            raise InvalidUpcaster(
                f"{old!r} is already renamed to {self._renames[old]!r}; an old name can be read "
                "as one class only. Remove one of the two renames."
            )
        if self.current_name(new) == old:
            raise InvalidUpcaster(
                f"Renaming {old!r} to {new!r} makes a cycle of renames; a rename points from a "
                "name no class uses any more to a newer one."
            )
        self._renames[old] = new

    @property
    def renames(self) -> Mapping[str, str]:
        """Every registered rename, old name to new name."""
        return dict(self._renames)

    def current_name(self, name: str) -> str:
        """The name ``name`` is read under once every rename is followed."""
        while name in self._renames:
            name = self._renames[name]
        return name

    def old_names(self, name: str) -> list[str]:
        """Every name whose events are read under ``name``, ``name`` excluded."""
        return [old for old in self._renames if old != name and self.current_name(old) == name]

    def missing_steps(self, name: str, to_version: int) -> list[int]:
        """The versions below ``to_version`` that ``name`` has no upcaster from."""
        steps = self._steps.get(name, {})
        return [version for version in range(1, to_version) if version not in steps]

    def upcast(
        self, name: str, data: dict[str, Any], from_version: int, to_version: int
    ) -> dict[str, Any]:
        """``data``, stored as ``name`` at ``from_version``, upcast to ``to_version``.

        Raises:
            UnreachableEventVersion: A step is missing, or ``from_version`` is newer than
                ``to_version`` (written by a newer class than the one registered).
        """
        for version, step in self._chain(name, from_version, to_version):
            data = step(data)
            if not isinstance(data, dict):
                raise InvalidUpcaster(
                    f"Upcaster {step.__qualname__} for {name!r} from version {version} returned "
                    f"{type(data).__name__}; an upcaster returns the payload as a dict."
                )
        return data

    def _chain(self, name: str, from_version: int, to_version: int) -> Iterator[tuple[int, Upcast]]:
        if type(from_version) is not int or from_version > to_version:
            raise UnreachableEventVersion(name, from_version, to_version, missing=None)
        steps = self._steps.get(name, {})
        missing = [v for v in range(from_version, to_version) if v not in steps]
        if missing:
            raise UnreachableEventVersion(name, from_version, to_version, missing=missing[0])
        for version in range(from_version, to_version):
            yield version, steps[version]


default_upcasters = Upcasters()
"""The registry :func:`upcaster` and :func:`rename` register into; every backend's default."""


def upcaster(
    name: str, *, from_version: int, registry: Upcasters | None = None
) -> Callable[[F], F]:
    """Register the decorated ``(data: dict) -> dict`` as ``name``'s step from ``from_version``.

    Args:
        name: The event's current name (after renames).
        from_version: The stored version the function reads; it returns version + 1.
        registry: Where to register; :data:`default_upcasters` when omitted.
    """
    return (registry or default_upcasters).upcaster(name, from_version=from_version)


def rename(old: str, new: str, *, registry: Upcasters | None = None) -> None:
    """Read events stored under ``old`` as the class registered under ``new``.

    Args:
        old: The name events were stored under.
        new: The name the class is registered under now.
        registry: Where to register; :data:`default_upcasters` when omitted.
    """
    (registry or default_upcasters).rename(old, new)
