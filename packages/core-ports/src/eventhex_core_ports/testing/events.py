"""Events the contract kit appends, with stable names that never clash with a user's."""

from event_sourcery import Event

__all__ = [
    "ContractItemAdded",
    "ContractItemRemoved",
    "ContractNoteTaken",
    "ContractOrderCreated",
    "ContractOrderPlaced",
    "ContractSnapshot",
]


class ContractItemAdded(Event):
    """An item was added."""

    __event_name__ = "eventhex.contract.ItemAdded"

    item: str
    quantity: int = 1


class ContractItemRemoved(Event):
    """An item was removed."""

    __event_name__ = "eventhex.contract.ItemRemoved"

    item: str


class ContractNoteTaken(Event):
    """A free-form note, for event-type filters."""

    __event_name__ = "eventhex.contract.NoteTaken"

    text: str


class ContractSnapshot(Event):
    """A stream state summary saved as a snapshot."""

    __event_name__ = "eventhex.contract.Snapshot"

    items: list[str]


class ContractOrderCreated(Event):
    """Version 1 of an order event, under the name the upcasting contract renames."""

    __event_name__ = "eventhex.contract.upcasting.OrderCreated"

    product: str


class ContractOrderPlaced(Event):
    """Version 3 of :class:`ContractOrderCreated`: renamed, ``product`` renamed to ``item``
    (version 2), then ``quantity`` added without a default (version 3)."""

    __event_name__ = "eventhex.contract.upcasting.OrderPlaced"
    __event_version__ = 3

    item: str
    quantity: int
