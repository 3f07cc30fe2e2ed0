"""A minimal end-to-end run: aggregate -> event store -> subscription -> outbox.

Runs on the in-memory reference backend; the Django demo (`examples/ledger`) replaces it once
the Django adapter and the relay are in place.
"""

import time

from event_sourcery import Event, StreamUUID
from event_sourcery.event import Recorded
from event_sourcery.event_sourcing import Aggregate, Repository

from eventhex_core_ports import InMemoryBackend


class Deposited(Event):
    __event_name__ = "quickstart.Deposited"
    amount: int


class Account(Aggregate):
    category = "account"

    def __init__(self) -> None:
        self.balance = 0

    def __apply__(self, event: Event) -> None:
        if isinstance(event, Deposited):
            self.balance += event.amount

    def deposit(self, amount: int) -> None:
        self._emit(Deposited(amount=amount))


def main() -> None:
    started = time.perf_counter()
    backend = InMemoryBackend().configure().with_outbox()
    repository = Repository[Account](backend.event_store)
    for n in range(1, 11):
        with repository.aggregate(StreamUUID(name=f"account-{n % 3}"), Account()) as wrapped:
            wrapped.aggregate.deposit(n)
    print(f"appended 10 events, store position {backend.event_store.position}")

    balances: dict[str, int] = {}
    for record in next(backend.subscriber.start_from(0).to_category("account").build_batch(100, 0.1)):
        event = record.wrapped_event.event
        assert isinstance(event, Deposited)
        name = record.stream_id.name or ""
        balances[name] = balances.get(name, 0) + event.amount
    print(f"read model: {dict(sorted(balances.items()))}")

    relayed: list[Recorded] = []
    backend.outbox.run(relayed.append)
    print(f"outbox relayed {len(relayed)} messages")
    print(f"done in {time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
