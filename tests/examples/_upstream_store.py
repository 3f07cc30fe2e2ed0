"""Run as a script with the ledger example's settings: fill ``event_sourcery_django_*`` tables,
run ``import_event_sourcery_django``, and print what eventhex then reads, as JSON.

The tables are created from the read-only models of
``eventhex_django_adapter.contrib.upstream_import`` (listed in the ledger's settings); the rows
are what event_sourcery_django 0.6.1 writes for the ledger's events. The reliability suite runs
it on a database moved between clusters.
"""

import json
import os
import sys
from datetime import UTC, datetime
from io import StringIO
from uuid import uuid4

os.environ["DJANGO_SETTINGS_MODULE"] = "ledger_project.settings"

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from event_sourcery import StreamId, StreamUUID  # noqa: E402
from ledger import services  # noqa: E402
from ledger.backend import backend  # noqa: E402

from eventhex_django_adapter.contrib.upstream_import.models import (  # noqa: E402
    UpstreamEvent,
    UpstreamOutboxEntry,
    UpstreamSnapshot,
    UpstreamStream,
)
from eventhex_django_adapter.models import Event, OutboxEntry  # noqa: E402

CONTEXT = {"correlation_id": None, "causation_id": None}


def fill_upstream() -> None:
    with connection.schema_editor() as editor:
        for model in (UpstreamStream, UpstreamEvent, UpstreamSnapshot, UpstreamOutboxEntry):
            editor.create_model(model)
    when = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    stream = UpstreamStream.objects.create(
        uuid=StreamUUID(name="zed"), name="zed", category="account", tenant_id="", version=3
    )
    rows = [
        ("ledger.AccountOpened", {"owner": "Zed Zimmer"}),
        ("ledger.MoneyDeposited", {"amount": 700, "transfer_id": None}),
        ("ledger.MoneyWithdrawn", {"amount": 250, "transfer_id": None}),
    ]
    events = [
        UpstreamEvent.objects.create(
            stream=stream,
            version=n,
            uuid=uuid4(),
            name=name,
            data=data,
            event_context=CONTEXT,
            created_at=when,
        )
        for n, (name, data) in enumerate(rows, start=1)
    ]
    for event, tries_left in ((events[1], 3), (events[2], 0)):
        UpstreamOutboxEntry.objects.create(
            created_at=when,
            stream_name="zed",
            position=event.id,
            tries_left=tries_left,
            data={
                "created_at": when.replace(tzinfo=None).isoformat(),
                "uuid": str(event.uuid),
                "stream_id": str(StreamUUID(name="zed")),
                "version": event.version,
                "name": event.name,
                "data": event.data,
                "context": CONTEXT,
                "tenant_id": "",
            },
        )


def main() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    fill_upstream()
    out = StringIO()
    call_command("import_event_sourcery_django", "--dry-run", stdout=out)
    call_command("import_event_sourcery_django", stdout=out)
    stream_id = StreamId(uuid=StreamUUID(name="zed"), name="zed", category="account")
    loaded = backend().event_store.load_stream(stream_id)
    services.deposit("zed", 50)  # appending after the import continues the stream
    outbox = OutboxEntry.objects.order_by("id")
    print(
        json.dumps(
            {
                "command": out.getvalue(),
                "versions": [e.version for e in loaded],
                "names": [type(e.event).__name__ for e in loaded],
                "created_at": [e.created_at.isoformat() for e in loaded],
                "balance": services.balance_of("zed"),
                "outbox": [[e.version, e.dead, e.stream_category, e.attempts] for e in outbox],
                "position": int(backend().event_store.position or 0),
                "stored": {
                    str(uuid): [tx_id, pk]
                    for uuid, tx_id, pk in Event.objects.values_list("uuid", "tx_id", "id")
                },
                "outbox_positions": {str(e.event_uuid): int(e.position) for e in outbox},
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
