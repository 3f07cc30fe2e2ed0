"""``Projection``: a read model fed by the runner, one batch per transaction."""

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from event_sourcery.event import Event, Recorded

__all__ = ["Projection", "handles"]

F = TypeVar("F", bound=Callable[..., Any])

_HANDLED = "_eventhex_handles"

OnFailure = Literal["stop", "park"]
Delivery = Literal["exactly_once", "at_least_once"]


def handles(*event_types: type[Event]) -> Callable[[F], F]:
    """Mark a ``Projection`` method as the handler of ``event_types``.

    The method is called as ``method(event, record)`` with the typed event and its
    ``Recorded``. Without an explicit ``category`` or ``event_types``, a projection subscribes
    to exactly the event types its methods handle.
    """
    if not event_types:
        raise TypeError("@handles needs at least one event type, e.g. @handles(OrderPlaced)")

    def mark(method: F) -> F:
        setattr(method, _HANDLED, (*getattr(method, _HANDLED, ()), *event_types))
        return method

    return mark


class Projection:
    """A read model kept current by ``manage.py eventhex_projections run``.

    Subclass it, name it, choose what it reads, and write its rows in ``handle`` (or in methods
    marked with :func:`handles`)::

        class Balances(Projection):
            name = "ledger.balances"
            category = "account"

            @handles(MoneyDeposited)
            def deposited(self, event: MoneyDeposited, record: Recorded) -> None:
                AccountBalance.objects.filter(...).update(balance=F("balance") + event.amount)

            def reset(self) -> None:
                AccountBalance.objects.all().delete()

    List it in ``settings.EVENTHEX_PROJECTIONS``. With the default ``delivery``, each batch's
    handler calls and its checkpoint commit in one transaction on the event store's database:
    write the read model there and every event takes effect exactly once.

    Attributes:
        name: Unique and stable: the checkpoint is stored under it. Renaming starts over.
        category: Read only the events of streams in this category.
        event_types: Read only these event types (not together with ``category``).
        batch_size: Events read and applied per transaction (a shard reads ``batch_size *
            shards`` and applies its own, about ``batch_size``).
        batch_wait: Seconds a partial batch waits for more events (at least 0.1).
        attempts: Tries of a failing event, with backoff, before it is parked.
        retry_delay: Seconds before the second try; doubles per try up to ``max_retry_delay``.
        max_retry_delay: The longest wait between two tries, in seconds.
        on_failure: After ``attempts``: ``"stop"`` (the default; the projection waits at the
            parked event until an operator retries or skips it, so order is kept) or
            ``"park"`` (the event is set aside and the projection goes on).
        delivery: ``"exactly_once"`` (handlers run inside the batch's transaction) or
            ``"at_least_once"`` for outside effects (e-mail, HTTP): each event's handler runs
            outside any transaction and its checkpoint commits after it, so a crash in between
            delivers the event again; use ``record.wrapped_event.uuid`` as the idempotency key.
        shards: Split the events by stream into this many shards, each with its own checkpoint
            and owner, so up to ``shards`` runners apply them in parallel; a stream's events
            stay in order. Changing it needs a rebuild or a new ``version``.
        version: Raise it to deploy a changed read model blue/green: the new version replays
            every event beside the live one and goes live once it has caught up; then the old
            version stops and its :meth:`retire` is called.
    """

    name: ClassVar[str] = ""
    category: ClassVar[str | None] = None
    event_types: ClassVar[Sequence[type[Event]] | None] = None
    batch_size: ClassVar[int] = 100
    batch_wait: ClassVar[float] = 0.2
    attempts: ClassVar[int] = 3
    retry_delay: ClassVar[float] = 0.5
    max_retry_delay: ClassVar[float] = 30.0
    on_failure: ClassVar[OnFailure] = "stop"
    delivery: ClassVar[Delivery] = "exactly_once"
    shards: ClassVar[int] = 1
    version: ClassVar[int] = 1

    _handlers: ClassVar[dict[type[Event], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type[Event], str] = {}
        for base in reversed(cls.__mro__):
            for attribute, value in vars(base).items():
                for event_type in getattr(value, _HANDLED, ()):
                    handlers[event_type] = attribute
        cls._handlers = handlers

    def handle(self, record: Recorded) -> None:
        """Apply one event; by default, call the :func:`handles` method of its type.

        Events of types no method handles are ignored. Raise to signal a failure: the event
        is retried, then parked (see ``attempts`` and ``on_failure``).
        """
        event = record.wrapped_event.event
        for event_type in type(event).__mro__:
            method = self._handlers.get(event_type)
            if method is not None:
                getattr(self, method)(event, record)
                return

    def handle_batch(self, records: Sequence[Recorded]) -> None:
        """Apply a batch, in order, inside the batch's transaction; calls :meth:`handle` for each.

        Override it to write a batch in bulk (``bulk_create``, ``executemany``): the runner
        calls it with each batch, and, after a failure, with one event at a time to find and
        retry the failing one.
        """
        for record in records:
            self.handle(record)

    def reset(self) -> None:
        """Delete the read model, before a rebuild replays every event; override it."""
        raise NotImplementedError(
            f"projection {self.name!r} cannot be rebuilt: define reset() on "
            f"{type(self).__qualname__} to delete its read model"
        )

    def retire(self) -> None:
        """Called once, when a newer version of this projection has gone live; override it.

        It runs in the transaction that makes the newer version live: drop or empty the old
        read model here (by default nothing is deleted).
        """

    @classmethod
    def can_reset(cls) -> bool:
        """Whether the class overrides :meth:`reset` (a rebuild needs it)."""
        return cls.reset is not Projection.reset

    @classmethod
    def selected_types(cls) -> tuple[type[Event], ...] | None:
        """The event types read: ``event_types``, else the handled ones, else None (all)."""
        if cls.event_types is not None:
            return tuple(cls.event_types)
        if cls.category is None and cls._handlers:
            return tuple(cls._handlers)
        return None

    @classmethod
    def problems(cls) -> list[str]:
        """What is wrong with the class's declaration, as sentences naming the fix."""
        found: list[str] = []
        label = f"{cls.__module__}.{cls.__qualname__}"
        if not isinstance(cls.name, str) or not cls.name.strip():
            found.append(f"{label} has no name: set name = 'app.read_model' (unique, stable)")
        elif len(cls.name) + len(f"@v{cls.version}#{cls.shards}/{cls.shards}") > 255:
            found.append(
                f"{label}.name is too long: with its version and shard (name@vV#K/N) it must "
                "fit in 255 characters"
            )
        if cls.category is not None and cls.event_types is not None:
            found.append(f"{label} sets both category and event_types: keep one of them")
        if cls.event_types is not None and not all(
            isinstance(t, type) and issubclass(t, Event) for t in cls.event_types
        ):
            found.append(f"{label}.event_types must list event_sourcery Event classes")
        for field, low in (("batch_size", 1), ("attempts", 1), ("shards", 1), ("version", 1)):
            value = getattr(cls, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                found.append(f"{label}.{field} must be an integer >= {low}, got {value!r}")
        for field, least in (("batch_wait", 0.1), ("retry_delay", 0.0), ("max_retry_delay", 0.0)):
            value = getattr(cls, field)
            if not isinstance(value, int | float) or value < least:
                found.append(f"{label}.{field} must be a number of seconds >= {least}")
        if cls.on_failure not in ("stop", "park"):
            found.append(f"{label}.on_failure must be 'stop' or 'park', got {cls.on_failure!r}")
        if cls.delivery not in ("exactly_once", "at_least_once"):
            found.append(
                f"{label}.delivery must be 'exactly_once' or 'at_least_once', got {cls.delivery!r}"
            )
        return found
