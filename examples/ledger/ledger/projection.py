"""The ``ledger.balances`` projection: a subscription that keeps ``AccountBalance`` current.

It subscribes to the ``account`` category from its stored checkpoint. Each batch is applied in
one database transaction that also moves two kinds of checkpoint:

- ``SubscriptionCheckpoint``: the store position to resume from after a restart;
- eventhex's ``DjangoCursorsDao`` (through event_sourcery's ``Projector``): the last version of
  each account stream applied. A replayed event is skipped, and a stream whose cursor fell
  behind is caught up from the event store first.

Either both checkpoints and the read model rows commit, or none does: a crash mid-batch replays
the batch, never applies it twice.
"""

from collections.abc import Callable, Sequence
from decimal import Decimal
from threading import Event as Flag

from django.db import transaction
from event_sourcery import StreamId
from event_sourcery.event import Event, Recorded, WrappedEvent
from event_sourcery.read_model import Projector

from eventhex_django_adapter import DjangoBackend, DjangoCursorsDao
from ledger.accounts import Account
from ledger.events import AccountOpened, MoneyDeposited, MoneyWithdrawn
from ledger.models import AccountBalance, SubscriptionCheckpoint

__all__ = ["BalancesProjection", "account_key"]


def account_key(stream_id: StreamId) -> str:
    """The read model's key of an account stream: its name, or its uuid when unnamed."""
    return stream_id.name or str(stream_id)


class BalancesProjection:
    """Applies account events to ``AccountBalance`` rows.

    Args:
        backend: The eventhex backend to subscribe to.
        database: The alias holding the read model and the checkpoints.
    """

    name = "ledger.balances"

    def __init__(self, backend: DjangoBackend, database: str = "default") -> None:
        self._backend = backend
        self._database = database
        self._projector = Projector(
            backend.event_store, self.name, DjangoCursorsDao(database), self._apply
        )

    def position(self) -> int:
        """The stored checkpoint: the position of the last event applied (0 before any)."""
        row = (
            SubscriptionCheckpoint.objects.using(self._database)
            .filter(name=self.name)
            .values_list("position", flat=True)
            .first()
        )
        return int(row or 0)

    def run(
        self,
        stop: Flag,
        *,
        until: int | None = None,
        batch_size: int = 100,
        timelimit: float = 0.2,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> int:
        """Follow the event store until ``stop`` is set or the checkpoint reaches ``until``.

        Args:
            stop: Set it (from another thread) to end the loop after the current batch.
            until: Also return once the checkpoint is at or past this position.
            batch_size: Events read and applied per transaction.
            timelimit: Seconds a batch waits for more events before it is applied as it is.
            on_batch: Called with (events applied, new position) after each batch commits.

        Returns:
            How many events were applied.
        """
        position = self.position()
        applied = 0
        if until is not None and position >= until:
            return applied
        subscription = (
            self._backend.subscriber.start_from(position)
            .to_category(Account.category)
            .build_batch(batch_size, timelimit)
        )
        for batch in subscription:
            if batch:
                position = self.apply_batch(batch)
                applied += len(batch)
                if on_batch:
                    on_batch(len(batch), position)
            if stop.is_set() or (until is not None and position >= until):
                break
        return applied

    def apply_batch(self, batch: Sequence[Recorded]) -> int:
        """Apply ``batch`` and move the checkpoints, all in one transaction.

        Returns:
            The new checkpoint position.
        """
        position = batch[-1].position
        with transaction.atomic(using=self._database):
            for record in batch:
                self._projector.project(record.wrapped_event, record.stream_id)
            SubscriptionCheckpoint.objects.using(self._database).update_or_create(
                name=self.name, defaults={"position": Decimal(position)}
            )
        return position

    def _apply(self, wrapped: WrappedEvent[Event], stream_id: StreamId) -> None:
        rows = AccountBalance.objects.using(self._database)
        key = account_key(stream_id)
        event = wrapped.event
        if isinstance(event, AccountOpened):
            rows.update_or_create(
                account=key, defaults={"owner": event.owner, "version": wrapped.version or 0}
            )
            return
        balance = rows.select_for_update().get(account=key)
        if isinstance(event, MoneyDeposited):
            balance.balance += event.amount
        elif isinstance(event, MoneyWithdrawn):
            balance.balance -= event.amount
        balance.transactions += 1
        balance.version = wrapped.version or balance.version
        balance.save(update_fields=["balance", "transactions", "version"])
