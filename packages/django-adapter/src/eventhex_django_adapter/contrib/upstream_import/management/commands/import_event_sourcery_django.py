"""``manage.py import_event_sourcery_django``: move an event_sourcery_django store to eventhex."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from eventhex_django_adapter.contrib.upstream_import.transfer import (
    NothingToImport,
    TargetNotEmpty,
    copy_store,
)


class Command(BaseCommand):
    """Copy streams, events, snapshots and the outbox from ``event_sourcery_django_*``."""

    help = (
        "Copy an event_sourcery_django store (tables event_sourcery_django_*) into eventhex's "
        "tables, in one transaction. The old tables are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default", help="database alias (default)")
        parser.add_argument(
            "--outbox-attempts",
            type=int,
            default=3,
            help="max_attempts of imported outbox entries (DjangoConfig.outbox_attempts; 3)",
        )
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be copied, then roll back"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = copy_store(
                options["database"],
                outbox_attempts=options["outbox_attempts"],
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
            )
        except (NothingToImport, TargetNotEmpty) as error:
            raise CommandError(str(error)) from error
        verb = "would copy" if options["dry_run"] else "copied"
        self.stdout.write(
            f"{verb} {report.streams} streams, {report.events} events, "
            f"{report.snapshots} snapshots, {report.outbox_pending} pending and "
            f"{report.outbox_dead} dead outbox entries"
        )
        if report.tx_id is not None:
            self.stdout.write(
                f"positions: imported events carry tx_id {report.tx_id}; a checkpoint p saved "
                f"with event_sourcery_django is now ({report.tx_id} << 64) | p"
            )
        else:
            self.stdout.write("positions: unchanged (SQLite: the position is the event id)")
