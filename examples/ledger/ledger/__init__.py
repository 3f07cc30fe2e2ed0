"""The ledger app: bank accounts as event-sourced aggregates on eventhex.

- ``events`` and ``accounts``: the domain (event_sourcery events and the ``Account`` aggregate).
- ``backend``: the one configured ``DjangoBackend`` and the account ``Repository``.
- ``services``: the commands the outside world calls (open, deposit, withdraw, transfer).
- ``models`` and ``projection``: the ``AccountBalance`` read model and the ``Balances``
  projection that ``manage.py eventhex_projections run`` keeps current.
"""
