"""``manage.py eventhex_status``: what the event store and its outbox hold."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Min

from eventhex_django_adapter._subscription_reads import newest_readable_position
from eventhex_django_adapter.models import Event, OutboxEntry, Stream


class Command(BaseCommand):
    """Print stream and event counts, the current position and the outbox backlog."""

    help = "Show how many streams and events the eventhex store holds and the outbox backlog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default="default", help="The database alias (default: 'default')."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias: str = options["database"]
        outbox = OutboxEntry.objects.using(alias)
        pending = outbox.filter(dead=False)
        oldest = pending.aggregate(oldest=Min("enqueued_at"))["oldest"]
        lines = [
            f"database: {alias}",
            f"streams: {Stream.objects.using(alias).count()}",
            f"events: {Event.objects.using(alias).count()}",
            f"position: {newest_readable_position(alias)}",
            f"outbox pending: {pending.count()}",
            f"outbox dead: {outbox.filter(dead=True).count()}",
            f"outbox oldest pending: {oldest.isoformat() if oldest else '-'}",
        ]
        self.stdout.write("\n".join(lines))
