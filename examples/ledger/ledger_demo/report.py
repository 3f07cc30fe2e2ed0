"""Checking the demo's results and printing the summary."""

import json
from collections import defaultdict
from typing import Any

from ledger import services
from ledger.models import AccountBalance

from eventhex_django_adapter._codec import format_position
from eventhex_django_adapter.models import Event
from ledger_demo.relay import RelayRun
from ledger_demo.scenario import OWNERS
from ledger_demo.steps import ScenarioOutcome, outbox_left

__all__ = ["summarise"]


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _in_stream_order(messages: list[dict[str, Any]]) -> bool:
    last: dict[str, int] = defaultdict(int)
    for message in messages:
        key, version = message.get("partition_key", ""), message.get("version") or 0
        if version <= last[key]:
            return False
        last[key] = version
    return True


def _sample(relayed: RelayRun) -> None:
    if not relayed.messages:
        return
    print(f"      relay printed {len(relayed.messages)} JSON lines; the first two:")
    for message in relayed.messages[:2]:
        shown = {k: message.get(k) for k in ("event_name", "stream_name", "version", "data")}
        print(f"        {json.dumps(shown)}")


def summarise(label: str, outcome: ScenarioOutcome, relayed: RelayRun, seconds: float) -> int:
    """Check everything, print the summary; returns 0 when every check passed, else 1."""
    result = outcome.result
    stored_uuids = {str(u) for u in Event.objects.values_list("uuid", flat=True)}
    rows = {row.account: row for row in AccountBalance.objects.order_by("account")}
    replayed = {account: services.balance_of(account) for account in OWNERS}
    relayed_uuids = [str(m.get("event_uuid")) for m in relayed.messages]
    left = outbox_left()

    checks = {
        "every command's events are in the store": len(stored_uuids) == result.events,
        "the read model matches the scenario's own tally": {
            a: (r.balance, r.transactions) for a, r in rows.items()
        }
        == {a: (result.expected[a], result.transactions[a]) for a in OWNERS},
        "replaying each account gives the read model's balance": replayed
        == {a: r.balance for a, r in rows.items()},
        "the projection's checkpoint is the store position": outcome.caught_up
        and outcome.checkpoint == outcome.store_position,
        "the concurrent writer lost and was retried": result.conflicts_retried == 1,
        "the relay exited 0": relayed.returncode == 0,
        "every event was relayed exactly once": sorted(relayed_uuids) == sorted(stored_uuids),
        "each stream's messages came in version order": _in_stream_order(relayed.messages),
        "the outbox is empty": left == 0,
    }
    _sample(relayed)
    total = sum(row.balance for row in rows.values())
    print()
    print("== eventhex ledger demo: summary ==")
    print(f"database:          {label}")
    print(f"events appended:   {len(stored_uuids)} in {len(OWNERS)} account streams")
    print(
        f"commands:          {result.commands} run, {result.rejected} rejected "
        f"(insufficient funds), {result.conflicts_retried} concurrent write retried"
    )
    print(f"read model:        {len(rows)} accounts, total balance {_money(total)}")
    for account, row in rows.items():
        print(
            f"  {account:<6} {row.owner:<14} balance {_money(row.balance):>10}  "
            f"transactions {row.transactions:>3}  version {row.version:>3}"
        )
    print(
        f"checkpoint:        ledger.balances at position {format_position(outcome.checkpoint)} "
        f"(store position {format_position(outcome.store_position)}), "
        f"{outcome.projected} events applied live"
    )
    print(
        f"messages relayed:  {len(relayed.messages)} to standard output by "
        f"`eventhex-relay {' '.join(relayed.command[-5:])}` (exit {relayed.returncode}); "
        f"outbox left: {left}"
    )
    print(f"time taken:        {seconds:.1f}s")
    failed = [name for name, passed in checks.items() if not passed]
    for name in failed:
        print(f"FAILED CHECK:      {name}")
    if relayed.returncode != 0 or relayed.unparsed:
        print("relay log (stderr):")
        print(relayed.log[-4000:])
        for line in relayed.unparsed[:10]:
            print(f"  unparsed stdout: {line}")
    print(f"result:            {'OK' if not failed else 'FAILED'} ({len(checks)} checks)")
    return 0 if not failed else 1
