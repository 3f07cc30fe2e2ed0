"""``manage.py eventhex_rebase``: check the position clock and rebase it after a move."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections

from eventhex_django_adapter._position_clock import PositionClock, check_positions, position_clock


class Command(BaseCommand):
    """Rebase positions once a database has moved to another PostgreSQL cluster (ADR 0010).

    Appends and reads do this by themselves on their first use of a moved database; the command
    lets an operator do it at a chosen moment and see the outcome, check without changing
    anything (``--check`` fails when a rebase is due), or force a rebase after restoring a
    physical backup to an earlier point (``--force``, with the application stopped). On SQLite
    there is nothing to do.
    """

    help = (
        "Check eventhex's position clock; after a pg_dump/pg_restore into another PostgreSQL "
        "cluster, raise the position shift so new events sort after every stored one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default="default", help="The database alias (default: 'default')."
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--check",
            action="store_true",
            help="Only report; fail (exit status 1) when a rebase is due.",
        )
        mode.add_argument(
            "--force",
            action="store_true",
            help="Rebase even though the database has not moved, e.g. after restoring a "
            "physical backup to an earlier point while readers elsewhere hold newer positions. "
            "Stop the application first: it refuses while other sessions are connected.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias: str = options["database"]
        if connections[alias].vendor != "postgresql":
            self.stdout.write(f"database {alias}: positions are event ids; nothing to rebase")
            return
        before = position_clock(alias)
        assert before is not None
        if options["check"]:
            if before.needs_rebase:
                raise CommandError(
                    f"database {alias}: positions need a rebase ({_why(before)}); "
                    "run manage.py eventhex_rebase"
                )
            self.stdout.write(f"database {alias}: positions ok (shift {before.shift})")
            return
        try:
            shift = check_positions(alias, force=options["force"])
        except DatabaseError as error:
            raise CommandError(f"database {alias}: {error}") from error
        if shift != before.shift:
            why = "forced" if options["force"] and not before.needs_rebase else _why(before)
            self.stdout.write(
                f"database {alias}: rebased positions ({why}): shift {before.shift} -> "
                f"{shift}; new events sort after every stored one"
            )
        else:
            self.stdout.write(f"database {alias}: positions ok (shift {shift})")


def _why(clock: PositionClock) -> str:
    if clock.moved:
        return f"moved from cluster {clock.stored_system_identifier} to {clock.system_identifier}"
    return (
        f"next transaction id {clock.next_xid} + shift {clock.shift} is not past the largest "
        f"stored tx_id {clock.newest_tx_id}"
    )
