"""Code written against event_sourcery's public API runs unchanged on the in-memory backend."""

from event_sourcery import Event, StreamId, StreamUUID
from event_sourcery.event import WrappedEvent
from event_sourcery.event_sourcing import Aggregate, Repository
from event_sourcery.read_model import Projector

from eventhex_core_ports import InMemoryBackend
from eventhex_core_ports.in_memory import InMemoryCursorsDao


class Deposited(Event):
    __event_name__ = "tests.api.Deposited"
    amount: int


class Withdrawn(Event):
    __event_name__ = "tests.api.Withdrawn"
    amount: int


class Account(Aggregate):
    category = "account"

    def __init__(self) -> None:
        self.balance = 0

    def __apply__(self, event: Event) -> None:
        match event:
            case Deposited(amount=amount):
                self.balance += amount
            case Withdrawn(amount=amount):
                self.balance -= amount

    def deposit(self, amount: int) -> None:
        self._emit(Deposited(amount=amount))

    def withdraw(self, amount: int) -> None:
        self._emit(Withdrawn(amount=amount))


def test_repository_and_aggregate_round_trip() -> None:
    backend = InMemoryBackend().configure()
    repository = Repository[Account](backend.event_store)
    account_id = StreamUUID(name="account-1")

    with repository.aggregate(account_id, Account()) as wrapped:
        assert wrapped.is_new
        wrapped.aggregate.deposit(100)
    with repository.aggregate(account_id, Account()) as wrapped:
        wrapped.aggregate.withdraw(30)
        assert wrapped.aggregate.balance == 70
    with repository.aggregate(account_id, Account()) as wrapped:
        assert (wrapped.aggregate.balance, wrapped.version) == (70, 2)


def test_subscription_feeds_a_projection_with_checkpoints() -> None:
    backend = InMemoryBackend().configure()
    balances: dict[str, int] = {}

    def read_model(wrapped: WrappedEvent, stream_id: StreamId) -> None:
        sign = 1 if isinstance(wrapped.event, Deposited) else -1
        balances[stream_id.name or ""] = balances.get(stream_id.name or "", 0) + (
            sign * wrapped.event.amount
        )

    projector = Projector(backend.event_store, "balances", InMemoryCursorsDao(), read_model)
    stream = StreamId(name="acc", category="account")
    backend.event_store.append(Deposited(amount=5), Withdrawn(amount=2), stream_id=stream)

    for record in next(
        backend.subscriber.start_from(0).to_category("account").build_batch(10, 0.2)
    ):
        projector.project(record.wrapped_event, record.stream_id)
    # the same events again are recognised as already projected
    for record in next(backend.subscriber.start_from(0).build_batch(10, 0.2)):
        projector.project(record.wrapped_event, record.stream_id)

    assert balances == {"acc": 3}


def test_cursor_catches_up_missed_events() -> None:
    backend = InMemoryBackend().configure()
    seen: list[int] = []
    projector = Projector(
        backend.event_store, "p", InMemoryCursorsDao(), lambda e, _: seen.append(e.version or 0)
    )
    stream = StreamId(name="s")
    backend.event_store.append(*(Deposited(amount=n) for n in range(3)), stream_id=stream)
    last = backend.event_store.load_stream(stream)[-1]

    projector.project(last, stream)

    assert seen == [1, 2, 3]
