"""What can happen to an account. Amounts are whole cents."""

from event_sourcery import Event

__all__ = ["AccountOpened", "MoneyDeposited", "MoneyWithdrawn"]


class AccountOpened(Event):
    """An account was opened for ``owner``."""

    __event_name__ = "ledger.AccountOpened"
    owner: str


class MoneyDeposited(Event):
    """Money came in; ``transfer_id`` is set when it came from another account."""

    __event_name__ = "ledger.MoneyDeposited"
    amount: int
    transfer_id: str | None = None


class MoneyWithdrawn(Event):
    """Money went out; ``transfer_id`` is set when it went to another account."""

    __event_name__ = "ledger.MoneyWithdrawn"
    amount: int
    transfer_id: str | None = None
