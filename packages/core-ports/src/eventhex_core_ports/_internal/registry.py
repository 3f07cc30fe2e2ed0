"""``ExplainingEventRegistry``: the event registry whose failed lookups say how to fix them.

A stored event is read back as the class registered under its name. event_sourcery's
``EventRegistry`` answers an unknown name with a bare ``KeyError``; this one raises
:class:`~eventhex_core_ports.errors.UnknownEventName` (still a ``KeyError``), whose message names
the event and the fix. ``CoreContainer`` gives every backend one.
"""

from typing import Any

from event_sourcery.event import EventRegistry

from eventhex_core_ports.errors import UnknownEventName

__all__ = ["ExplainingEventRegistry"]


class ExplainingEventRegistry(EventRegistry):
    """event_sourcery's ``EventRegistry`` whose failed lookups raise ``UnknownEventName``."""

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
