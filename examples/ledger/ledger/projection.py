"""The ``ledger.balances`` projection: ``AccountBalance`` rows kept current from account events.

``manage.py eventhex_projections run`` feeds it every event of the ``account`` category, in commit
order. Each batch's handler calls and its checkpoint commit in one database transaction, so a
crash anywhere re-applies nothing and skips nothing; several runners may run, one owns it.
``manage.py eventhex_projections rebuild ledger.balances`` resets and replays it.
"""

from django.db.models import F
from event_sourcery import StreamId
from event_sourcery.event import Recorded

from eventhex_django_adapter.projections import Projection, handles
from ledger.accounts import Account
from ledger.events import AccountOpened, MoneyDeposited, MoneyWithdrawn
from ledger.models import AccountBalance

__all__ = ["Balances", "account_key"]


def account_key(stream_id: StreamId) -> str:
    """The read model's key of an account stream: its name, or its uuid when unnamed."""
    return stream_id.name or str(stream_id)


class Balances(Projection):
    """One ``AccountBalance`` row per account: owner, balance, transactions, version."""

    name = "ledger.balances"
    category = Account.category
    batch_size = 100

    @handles(AccountOpened)
    def opened(self, event: AccountOpened, record: Recorded) -> None:
        AccountBalance.objects.update_or_create(
            account=account_key(record.stream_id),
            defaults={"owner": event.owner, "version": record.wrapped_event.version or 0},
        )

    @handles(MoneyDeposited)
    def deposited(self, event: MoneyDeposited, record: Recorded) -> None:
        self._move(record, event.amount)

    @handles(MoneyWithdrawn)
    def withdrawn(self, event: MoneyWithdrawn, record: Recorded) -> None:
        self._move(record, -event.amount)

    def _move(self, record: Recorded, amount: int) -> None:
        AccountBalance.objects.filter(account=account_key(record.stream_id)).update(
            balance=F("balance") + amount,
            transactions=F("transactions") + 1,
            version=record.wrapped_event.version or F("version"),
        )

    def reset(self) -> None:
        AccountBalance.objects.all().delete()
