"""The admin benchmark's projections: checkpoints and lag for the projections page (their
handlers never run: the benchmark writes their rows)."""

from event_sourcery.event import Event, Recorded

from eventhex_django_adapter.projections import Projection


class OrderShipped(Event):
    """The event type one benchmark projection selects (stored as ``OrderShipped``)."""

    __event_name__ = "OrderShipped"


class _Idle(Projection):
    def handle(self, record: Recorded) -> None:
        """Never called: the benchmark only shows checkpoints."""


class EveryEvent(_Idle):
    """Reads every event; checkpoint at 90 % of the store."""

    name = "bench.every_event"


class Orders(_Idle):
    """Reads the ``order`` category; checkpoint at half of the store."""

    name = "bench.orders"
    category = "order"


class Shipped(_Idle):
    """Reads one event type; caught up."""

    name = "bench.shipped"
    event_types = (OrderShipped,)


class NeverRun(_Idle):
    """Registered, never run: no row, lag from the start."""

    name = "bench.never_run"
