"""The scripted scenario: open accounts, move money around, race two writers.

It keeps its own tally of what every balance must be, so the demo can check the read model
against an answer computed without eventhex.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from event_sourcery import StreamUUID
from event_sourcery.exceptions import ConcurrentStreamWriteError
from ledger import services
from ledger.accounts import Account, InsufficientFunds
from ledger.backend import accounts

__all__ = ["OWNERS", "ScenarioResult", "run_scenario"]

OWNERS = {
    "alice": "Alice Archer",
    "bob": "Bob Baker",
    "carol": "Carol Cooper",
    "dave": "Dave Draper",
    "erin": "Erin Evans",
}


@dataclass
class ScenarioResult:
    """What the scenario did and what the balances must be (in cents)."""

    expected: dict[str, int] = field(default_factory=dict)
    transactions: dict[str, int] = field(default_factory=dict)
    commands: int = 0
    events: int = 0
    rejected: int = 0
    conflicts_retried: int = 0

    def _count(self, account: str, events: int = 1) -> None:
        self.transactions[account] = self.transactions.get(account, 0) + 1
        self.events += events


def run_scenario(
    commands: int, seed: int, progress: Callable[[ScenarioResult], None]
) -> ScenarioResult:
    """Run ``commands`` random but reproducible commands after opening the accounts.

    Args:
        commands: How many deposits, withdrawals and transfers to issue.
        seed: Seed of the random choices; the same seed gives the same events.
        progress: Called every few commands with the result so far.
    """
    rng = random.Random(seed)
    result = ScenarioResult()
    for account, owner in OWNERS.items():
        services.open_account(account, owner)
        services.deposit(account, 10_000)
        result.expected[account] = 10_000
        result.transactions[account] = 1
        result.commands += 2
        result.events += 2
    progress(result)

    names = list(OWNERS)
    for n in range(1, commands + 1):
        kind = rng.choices(["deposit", "withdraw", "transfer"], weights=[3, 3, 4])[0]
        account = rng.choice(names)
        amount = rng.randrange(100, 9_000, 25)
        result.commands += 1
        try:
            if kind == "deposit":
                services.deposit(account, amount)
                result.expected[account] += amount
                result._count(account)
            elif kind == "withdraw":
                services.withdraw(account, amount)
                result.expected[account] -= amount
                result._count(account)
            else:
                target = rng.choice([name for name in names if name != account])
                services.transfer(account, target, amount)
                result.expected[account] -= amount
                result.expected[target] += amount
                result._count(account, events=2)
                result.transactions[target] += 1
        except InsufficientFunds:
            result.rejected += 1
        if n % 10 == 0:
            progress(result)

    _race_two_writers(result)
    progress(result)
    return result


def _race_two_writers(result: ScenarioResult) -> None:
    """Two sessions load alice at the same version; the second one to save must lose."""
    repository = accounts()
    stream = StreamUUID(name="alice")
    result.commands += 2
    try:
        with repository.aggregate(stream, Account()) as first:
            with repository.aggregate(stream, Account()) as second:
                second.aggregate.deposit(125)
            first.aggregate.deposit(75)
    except ConcurrentStreamWriteError:
        result.conflicts_retried += 1
        services.deposit("alice", 75)  # retried: reloads the stream, so it sees the 125
    result.expected["alice"] += 200
    result._count("alice")
    result._count("alice")
