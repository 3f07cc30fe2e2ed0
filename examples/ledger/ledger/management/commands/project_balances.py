"""``manage.py project_balances``: run the balances projection as a worker process."""

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ledger.backend import backend
from ledger.projection import BalancesProjection


class Command(BaseCommand):
    """Follow the event store and keep ``AccountBalance`` current until stopped."""

    help = (
        "Keep the balances read model current. Resumes from its stored checkpoint; "
        "stops on SIGINT/SIGTERM, or with --until-caught-up once it reaches the store position."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--until-caught-up",
            action="store_true",
            help="exit once the checkpoint reaches the event store's current position",
        )
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        projection = BalancesProjection(backend())
        until = int(backend().event_store.position or 0) if options["until_caught_up"] else None
        self.stdout.write(f"{projection.name}: resuming at position {projection.position()}")

        def report(count: int, position: int) -> None:
            self.stdout.write(f"{projection.name}: applied {count}, now at position {position}")

        applied = projection.run(
            stop, until=until, batch_size=options["batch_size"], on_batch=report
        )
        self.stdout.write(f"{projection.name}: stopped after {applied} events")
