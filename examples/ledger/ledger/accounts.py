"""The ``Account`` aggregate: its state is the fold of its events."""

from event_sourcery import Event
from event_sourcery.event_sourcing import Aggregate

from ledger.events import AccountOpened, MoneyDeposited, MoneyWithdrawn

__all__ = ["Account", "AccountAlreadyOpen", "AccountNotOpen", "InsufficientFunds"]


class AccountNotOpen(Exception):
    """The account has no ``AccountOpened`` event yet."""


class AccountAlreadyOpen(Exception):
    """The account was opened before."""


class InsufficientFunds(Exception):
    """A withdrawal would overdraw the account."""


class Account(Aggregate):
    """A bank account that can never go below zero."""

    category = "account"

    def __init__(self) -> None:
        self.owner: str | None = None
        self.balance = 0

    def __apply__(self, event: Event) -> None:
        match event:
            case AccountOpened(owner=owner):
                self.owner = owner
            case MoneyDeposited(amount=amount):
                self.balance += amount
            case MoneyWithdrawn(amount=amount):
                self.balance -= amount

    def open(self, owner: str) -> None:
        """Open the account for ``owner``."""
        if self.owner is not None:
            raise AccountAlreadyOpen(self.owner)
        self._emit(AccountOpened(owner=owner))

    def deposit(self, amount: int, transfer_id: str | None = None) -> None:
        """Put ``amount`` cents in."""
        self._require_open()
        if amount <= 0:
            raise ValueError("a deposit must be positive")
        self._emit(MoneyDeposited(amount=amount, transfer_id=transfer_id))

    def withdraw(self, amount: int, transfer_id: str | None = None) -> None:
        """Take ``amount`` cents out, unless that overdraws the account."""
        self._require_open()
        if amount <= 0:
            raise ValueError("a withdrawal must be positive")
        if amount > self.balance:
            raise InsufficientFunds(f"balance {self.balance} < {amount}")
        self._emit(MoneyWithdrawn(amount=amount, transfer_id=transfer_id))

    def _require_open(self) -> None:
        if self.owner is None:
            raise AccountNotOpen
