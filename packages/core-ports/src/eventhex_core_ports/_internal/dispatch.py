"""``ListenerAwareDispatcher``: in-transaction dispatch that costs nothing without listeners.

event_sourcery's ``Dispatcher`` deserializes every appended record before it looks for
listeners, so each append pays for a full deserialization even when nobody listens. This drop-in
looks first and deserializes only the records some listener is registered for (by event type,
including base types, or by stream category); listeners see exactly what they saw before.
"""

from collections.abc import Sequence
from typing import cast

from event_sourcery import Event
from event_sourcery.event import RawEvent, RecordedRaw, Serde
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
        return self.listens_to_any([raw.entry])

    def listens_to_any(self, events: Sequence[RawEvent]) -> bool:
        """Whether a listener is registered for one of the events' types or stream categories
        (each category and name looked up once)."""
        seen: set[tuple[str | None, str]] = set()
        for event in events:
            key = (event.stream_id.category, event.name)
            if key in seen:
                continue
            seen.add(key)
            if next(iter(self._registered[key[0] or ""]), None) is not None:
                return True
            event_type = cast(type[Event], self._registry.type_for_name(key[1]))
            if next(iter(self._registered[event_type]), None) is not None:
                return True
        return False
