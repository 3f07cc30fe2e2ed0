"""The read side of the ledger: balances, kept current by ``ledger.projection.Balances``."""

from django.db import models

__all__ = ["AccountBalance"]


class AccountBalance(models.Model):
    """One row per account, as the ``ledger.balances`` projection last saw it."""

    account = models.CharField(max_length=255, unique=True)
    owner = models.CharField(max_length=255)
    balance = models.BigIntegerField(default=0)
    transactions = models.IntegerField(default=0)
    version = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.account}: {self.balance}"
