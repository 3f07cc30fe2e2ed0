"""The ledger's commands: what a view, an API or a task would call.

Each command loads an ``Account`` through the repository, lets it decide, and saves its new
events; the append checks the stream version it loaded, so two concurrent commands on one
account cannot both succeed (the loser gets ``ConcurrentStreamWriteError`` and may retry).
A transfer changes two accounts in one database transaction: both appends, and their outbox
rows, commit together or not at all.
"""

from uuid import uuid4

from django.db import transaction
from event_sourcery import StreamUUID

from ledger.accounts import Account
from ledger.backend import accounts

__all__ = ["balance_of", "deposit", "open_account", "transfer", "withdraw"]


def _stream(account: str) -> StreamUUID:
    return StreamUUID(name=account)


def open_account(account: str, owner: str) -> None:
    """Open ``account`` for ``owner``."""
    with accounts().aggregate(_stream(account), Account()) as wrapped:
        wrapped.aggregate.open(owner)


def deposit(account: str, amount: int) -> None:
    """Put ``amount`` cents into ``account``."""
    with accounts().aggregate(_stream(account), Account()) as wrapped:
        wrapped.aggregate.deposit(amount)


def withdraw(account: str, amount: int) -> None:
    """Take ``amount`` cents out of ``account``; raises ``InsufficientFunds`` if it cannot."""
    with accounts().aggregate(_stream(account), Account()) as wrapped:
        wrapped.aggregate.withdraw(amount)


def transfer(source: str, target: str, amount: int) -> str:
    """Move ``amount`` cents from ``source`` to ``target`` atomically.

    Returns:
        The transfer id recorded on both events.
    """
    transfer_id = str(uuid4())
    repository = accounts()
    with transaction.atomic():
        with repository.aggregate(_stream(source), Account()) as wrapped:
            wrapped.aggregate.withdraw(amount, transfer_id)
        with repository.aggregate(_stream(target), Account()) as wrapped:
            wrapped.aggregate.deposit(amount, transfer_id)
    return transfer_id


def balance_of(account: str) -> int:
    """The balance, replayed from the account's events (the write side's view)."""
    with accounts().aggregate(_stream(account), Account()) as wrapped:
        return wrapped.aggregate.balance
