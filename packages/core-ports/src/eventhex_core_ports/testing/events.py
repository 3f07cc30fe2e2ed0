"""Events the contract kit appends, with stable names that never clash with a user's."""

from event_sourcery import Event

__all__ = ["ContractItemAdded", "ContractItemRemoved", "ContractNoteTaken", "ContractSnapshot"]


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
