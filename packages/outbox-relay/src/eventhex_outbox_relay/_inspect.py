"""``status`` and ``dead-letters``: what an operator reads and repairs."""

from __future__ import annotations

import sys
from typing import Any

from eventhex_core_ports.ports.relay import OutboxSource
from eventhex_outbox_relay._output import Output

__all__ = ["dead_letters", "status"]


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def status(source: OutboxSource, *, as_json: bool) -> int:
    """Print pending, in-flight and dead counts and the oldest live entry's age."""
    stats = source.stats()
    age = stats.oldest_age.total_seconds() if stats.oldest_age is not None else None
    out = Output(as_json)
    if as_json:
        row = {"pending": stats.pending, "in_flight": stats.in_flight, "dead": stats.dead}
        out.json({**row, "oldest_age_seconds": age})
        return 0
    rows = [
        ("pending", stats.pending),
        ("in flight", stats.in_flight),
        ("dead", stats.dead),
        ("oldest age", _age(age)),
    ]
    if out.rich:
        out.table("outbox", ["", "value"], rows)
    else:
        for name, value in rows:
            out.line(f"{name:<11} {value}")
    return 0


def dead_letters(source: OutboxSource, args: Any) -> int:
    """``list`` (JSON lines with ``--json``, a table on a terminal, lines otherwise), or
    ``replay`` / ``purge`` chosen ids or ``--all``."""
    if args.action == "list":
        return _list(source, args.limit, args.after, as_json=args.json)
    if not args.ids and not args.all:
        print(f"dead-letters {args.action}: give entry ids or --all", file=sys.stderr)
        return 2
    ids = None if args.all else list(args.ids)
    if args.action == "replay":
        print(f"re-queued {source.replay_dead_letters(ids)} dead letter(s)")
    else:
        print(f"purged {source.purge_dead_letters(ids)} dead letter(s)")
    return 0


def _list(source: OutboxSource, limit: int, after: int, *, as_json: bool) -> int:
    letters = source.dead_letters(limit=limit, after_id=after)
    out = Output(as_json)
    if as_json:
        for m in letters:
            row = {"entry_id": m.entry_id, "attempts": m.attempts, "last_error": m.last_error}
            out.json({**row, **m.as_payload()})
        return 0
    if out.rich:
        columns = ["id", "event", "event uuid", "stream", "attempts", "last error"]
        rows = [
            (m.entry_id, m.event_name, m.event_uuid, m.partition_key, m.attempts, m.last_error)
            for m in letters
        ]
        out.table(f"{len(letters)} dead letter(s)", columns, rows)
        return 0
    for m in letters:
        out.line(
            f"{m.entry_id}  {m.event_name}  {m.event_uuid}  stream {m.partition_key}  "
            f"attempts {m.attempts}  error: {m.last_error}"
        )
    print(f"{len(letters)} dead letter(s)", file=sys.stderr)
    return 0
