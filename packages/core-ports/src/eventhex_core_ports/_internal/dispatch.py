"""``ListenerAwareDispatcher``: in-transaction dispatch that costs nothing without listeners.

event_sourcery's ``Dispatcher`` deserializes every appended record before it looks for
listeners, so each append pays for a full deserialization even when nobody listens. This drop-in
looks first and deserializes only the records some listener is registered for (by event type,
including base types, or by stream category); listeners see exactly what they saw before.
"""

from typing import cast

from event_sourcery import Event
from event_sourcery.event import RecordedRaw, Serde
from event_sourcery.in_transaction import Dispatcher, Listeners

__all__ = ["ListenerAwareDispatcher"]


class ListenerAwareDispatcher(Dispatcher):
    """A ``Dispatcher`` that skips records no listener is registered for.

    Args:
        serde: Deserializes the records that are dispatched.
        listeners: The registry of in-transaction listeners.
    """

    def __init__(self, serde: Serde, listeners: Listeners) -> None:
        super().__init__(serde, listeners)
        self._registry = serde.registry
        self._registered = listeners

    def dispatch(self, *raws: RecordedRaw) -> None:
        """Dispatch the records some listener wants, in their order."""
        wanted = [raw for raw in raws if self.listens_to(raw)]
        if wanted:
            super().dispatch(*wanted)

    def listens_to(self, raw: RecordedRaw) -> bool:
        """Whether a listener is registered for the record's event type or stream category.

        Adapters use it to skip work (a transaction, a deserialization) nobody would observe.
        """
        category = raw.entry.stream_id.category or ""
        if next(iter(self._registered[category]), None) is not None:
            return True
        event_type = cast(type[Event], self._registry.type_for_name(raw.entry.name))
        return next(iter(self._registered[event_type]), None) is not None
