"""The ledger app's configuration."""

from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """Bank accounts on eventhex, with a balances read model."""

    name = "ledger"
    label = "ledger"
    verbose_name = "Ledger"
    default_auto_field = "django.db.models.BigAutoField"
