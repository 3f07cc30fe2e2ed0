"""The read side of the ledger: balances, rebuilt from events by ``ledger.projection``."""

from django.db import models

__all__ = ["AccountBalance", "SubscriptionCheckpoint"]


class AccountBalance(models.Model):
    """One row per account, as the ``ledger.balances`` projection last saw it."""

    account = models.CharField(max_length=255, unique=True)
    owner = models.CharField(max_length=255)
    balance = models.BigIntegerField(default=0)
    transactions = models.IntegerField(default=0)
    version = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.account}: {self.balance}"


class SubscriptionCheckpoint(models.Model):
    """Where a subscription resumes: the position of the last event it handled.

    Positions are opaque integers that may exceed 64 bits (on PostgreSQL they encode a
    transaction id and an event id), hence the 40-digit decimal.
    """

    name = models.CharField(max_length=255, unique=True)
    position = models.DecimalField(max_digits=40, decimal_places=0, default=0)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"
