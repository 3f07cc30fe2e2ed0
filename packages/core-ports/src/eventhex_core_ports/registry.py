"""``ExplainingEventRegistry``: the event registry whose failed lookups say how to fix them.

A stored event is read back as the class registered under its name. event_sourcery's
``EventRegistry`` answers an unknown name with a bare ``KeyError``; this one raises
:class:`UnknownEventName` (still a ``KeyError``), whose message names the event and the fix.
``CoreContainer`` gives every backend one. Both names are also importable from
:mod:`eventhex_core_ports.validation`.
"""

from typing import Any

from event_sourcery.event import EventRegistry
from event_sourcery.exceptions import EventStoreException

__all__ = ["ExplainingEventRegistry", "UnknownEventName"]


class UnknownEventName(EventStoreException, KeyError):
    """A stored event's name matches no registered event class (still a ``KeyError``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return (
            f"No event class is registered under the name {self.name!r}. Define an Event "
            f"subclass whose __event_name__ (or module.QualifiedName) is {self.name!r} and "
            "import it before reading, or add it with backend[EventRegistry].add(EventClass)."
        )


class ExplainingEventRegistry(EventRegistry):
    """event_sourcery's ``EventRegistry`` whose failed lookups raise :class:`UnknownEventName`."""

    def type_for_name(self, name: str) -> Any:
        """The event class registered under ``name``.

        Raises:
            UnknownEventName: No class is registered under ``name``.
        """
        found = self._names_to_types.get(name)  # every read asks: skip the miss handling
        if found is not None:
            return found
        try:
            return super().type_for_name(name)
        except KeyError:
            raise UnknownEventName(name) from None
