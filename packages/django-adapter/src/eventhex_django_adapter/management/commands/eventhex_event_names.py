"""``manage.py eventhex_event_names``: the stored event names and the classes that read them."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from eventhex_core_ports._internal.terminal import printable
from eventhex_django_adapter.event_names import (
    StoredEventName,
    event_names,
    import_event_modules,
)


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
        gaps = [entry for entry in found if entry.missing_upcasters]
        shown = [entry for entry in found if not entry.readable or not options["orphans"]]
        if options["json"]:
            rows = [
                {
                    "name": entry.name,
                    "class": entry.event_class,
                    "read_as": entry.read_as,
                    "missing_upcasters": list(entry.missing_upcasters),
                }
                for entry in shown
            ]
            self.stdout.write(json.dumps(rows, indent=2))
        elif shown:
            width = max(len(entry.name) for entry in shown)
            self.stdout.write(
                "\n".join(printable(f"{entry.name.ljust(width)}  {_how(entry)}") for entry in shown)
            )
        if gaps and not orphans:
            missing = "; ".join(
                f"{entry.read_as or entry.name} from version(s) "
                + ", ".join(str(version) for version in entry.missing_upcasters)
                for entry in gaps
            )
            raise CommandError(
                printable(
                    f"{len(gaps)} stored event name(s) have events no chain of upcasters brings "
                    f"to their class's __event_version__: register @upcaster(name, "
                    f"from_version=N) (eventhex_core_ports.upcasting) for {missing}."
                ),
                returncode=2,
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


def _how(entry: StoredEventName) -> str:
    """How ``entry``'s events are read, for the table."""
    text = entry.event_class or "(no class)"
    if entry.read_as is not None:
        text += f" (renamed to {entry.read_as})"
    if entry.missing_upcasters:
        versions = ", ".join(str(version) for version in entry.missing_upcasters)
        text += f" (no upcaster from version {versions})"
    return text
