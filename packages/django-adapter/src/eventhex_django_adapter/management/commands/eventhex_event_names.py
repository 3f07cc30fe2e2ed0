"""``manage.py eventhex_event_names``: the stored event names and the classes that read them."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from eventhex_core_ports._internal.terminal import printable
from eventhex_django_adapter.event_names import event_names, import_event_modules


class Command(BaseCommand):
    """List every event name the store holds with the class that reads it.

    A name no registered class reads (an orphan) makes reads that meet its events fail with
    ``UnknownEventName``. Classes are found among the imported ``Event`` subclasses after each
    installed app's ``events`` module, the registered projections and ``--import`` modules are
    imported. Exits 2 when there are orphans, for scripts.
    """

    help = (
        "List the event names stored in eventhex's database and the event class that reads "
        "each; exit 2 when a name has no class (an orphan)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default="default", help="The database alias (default: 'default')."
        )
        parser.add_argument(
            "--orphans", action="store_true", help="Only the names no registered class reads."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON list.")
        parser.add_argument(
            "--import",
            dest="modules",
            action="append",
            default=[],
            metavar="MODULE",
            help="Also import MODULE, which defines event classes (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias: str = options["database"]
        try:
            import_event_modules(options["modules"])
        except ImportError as error:
            raise CommandError(f"--import: {error}") from None
        try:
            found = event_names(alias)
        except DatabaseError as error:
            raise CommandError(
                printable(
                    f"cannot read the event names of database {alias!r}: "
                    f"{type(error).__name__}: {error} (run `manage.py migrate`?)"
                )
            ) from None
        orphans = [entry.name for entry in found if entry.event_class is None]
        shown = [entry for entry in found if entry.event_class is None or not options["orphans"]]
        if options["json"]:
            rows = [{"name": entry.name, "class": entry.event_class} for entry in shown]
            self.stdout.write(json.dumps(rows, indent=2))
        elif shown:
            width = max(len(entry.name) for entry in shown)
            self.stdout.write(
                "\n".join(
                    printable(f"{entry.name.ljust(width)}  {entry.event_class or '(no class)'}")
                    for entry in shown
                )
            )
        if orphans:
            raise CommandError(
                printable(
                    f"{len(orphans)} stored event name(s) no registered class reads: "
                    f"{', '.join(orphans)}. Give the class that should read each that "
                    "__event_name__, in a module this process imports (an app's events.py, or "
                    "--import MODULE)."
                ),
                returncode=2,
            )
