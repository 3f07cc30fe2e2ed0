"""``manage.py eventhex_status``: what the event store and its outbox hold."""

import io
import json
import shutil
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connections
from django.db.models import Min
from rich.console import Console
from rich.table import Table
from rich.text import Text

from eventhex_core_ports._internal.logs import configure_logging
from eventhex_core_ports._internal.terminal import printable
from eventhex_django_adapter._position_clock import PositionClock, position_clock
from eventhex_django_adapter._subscription.reads import newest_readable_position
from eventhex_django_adapter._subscription.replica import replica_lag
from eventhex_django_adapter.models import Event, OutboxEntry, Stream


class Command(BaseCommand):
    """Print stream and event counts, the current position and the outbox backlog.

    A table on a terminal, ``name: value`` lines when piped, one JSON object with ``--json``.
    """

    help = "Show how many streams and events the eventhex store holds and the outbox backlog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default="default", help="The database alias (default: 'default')."
        )
        parser.add_argument(
            "--replica",
            action="append",
            default=[],
            metavar="ALIAS",
            help="Also report how far this streaming replica of --database is behind "
            "(PostgreSQL; repeatable), e.g. the backend's subscription_database.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--log-format",
            choices=["json", "text", "auto"],
            help="Render eventhex's log lines as json, text or auto (text on a terminal), as the "
            "relay does; without it, the project's LOGGING applies.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["log_format"]:
            level = "debug" if options["verbosity"] > 1 else "info"
            configure_logging(level, options["log_format"])
        alias: str = options["database"]
        try:
            facts = self._facts(alias)
            for replica in options["replica"]:
                facts.update(_replica_facts(replica, alias))
        except DatabaseError as error:
            raise CommandError(
                printable(f"cannot read database {alias!r}: {type(error).__name__}: {error}")
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps(facts))
        elif self.stdout.isatty():
            self.stdout.write(self._table(facts), ending="")
        else:
            lines = (f"{name.replace('_', ' ')}: {value}" for name, value in facts.items())
            self.stdout.write("\n".join(lines))

    @staticmethod
    def _facts(alias: str) -> dict[str, Any]:
        outbox = OutboxEntry.objects.using(alias)
        pending = outbox.filter(dead=False)
        oldest = pending.aggregate(oldest=Min("enqueued_at"))["oldest"]
        return {
            "database": alias,
            "streams": Stream.objects.using(alias).count(),
            "events": Event.objects.using(alias).count(),
            **_clock_facts(position_clock(alias)),  # before a read could rebase it
            "position": newest_readable_position(alias),
            "outbox_pending": pending.count(),
            "outbox_dead": outbox.filter(dead=True).count(),
            "outbox_oldest_pending": oldest.isoformat() if oldest else "-",
        }

    @staticmethod
    def _table(facts: dict[str, Any]) -> str:
        table = Table(title="eventhex store", title_justify="left")
        table.add_column("")
        table.add_column("value", overflow="fold")
        for name, value in facts.items():
            table.add_row(name.replace("_", " "), Text(printable(str(value))))
        width = shutil.get_terminal_size().columns
        console = Console(file=io.StringIO(), force_terminal=True, width=width)
        console.print(table)
        rendered: str = console.file.getvalue()  # type: ignore[attr-defined]
        return rendered


def _replica_facts(replica: str, primary: str) -> dict[str, Any]:
    """A replica's replay lag behind ``primary``, as ``replica_<alias>_...`` facts."""
    if replica not in connections.settings:
        raise CommandError(f"--replica {replica!r} is not in settings.DATABASES")
    lag = replica_lag(replica, primary)
    return {
        f"replica_{replica}_in_recovery": lag.in_recovery,
        f"replica_{replica}_lag_bytes": lag.bytes_behind,
        f"replica_{replica}_lag_seconds": round(lag.seconds_behind, 3),
    }


def _clock_facts(clock: PositionClock | None) -> dict[str, Any]:
    """The position clock (PostgreSQL; ADR 0010): the shift, and whether a rebase is due."""
    if clock is None:
        return {}
    return {
        "position_shift": clock.shift,
        "position_rebase_due": clock.needs_rebase,
        "cluster": clock.system_identifier,
        "next_transaction_id": clock.next_xid,
    }
