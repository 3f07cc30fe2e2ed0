"""Event rows through the ORM: every append on SQLite, and PostgreSQL's slow path.

SQLite has no data-modifying CTEs, so an append there is one ``transaction.atomic`` block of
three statements whatever the number of events: :func:`.claim.claim_row` claims the stream, then
:func:`insert_event_rows` inserts the events with one bulk ``INSERT``, and the outbox, when
there is one, writes its rows with another. When the claim fails,
:func:`.stream_rows.claim_stream` finds out why. PostgreSQL inserts events here only when its
one-statement append could not claim the stream; its rows then carry the transaction's
``tx_id`` (see :mod:`.._position_clock`).
"""

from event_sourcery.event import RawEvent, RecordedRaw

from eventhex_django_adapter._codec import encode_position, to_db
from eventhex_django_adapter._position_clock import transaction_tx_id
from eventhex_django_adapter.models import Event, Stream

__all__ = ["event_row", "insert_event_rows"]


def insert_event_rows(
    alias: str, tenant_id: str, stream: Stream, events: list[RawEvent]
) -> list[RecordedRaw]:
    """Insert ``events`` into the claimed ``stream`` with one bulk ``INSERT``; their records."""
    tx_id = transaction_tx_id(alias)
    rows = [event_row(stream, raw, tx_id) for raw in events]
    Event.objects.using(alias).bulk_create(rows)
    return [
        RecordedRaw(entry=raw, position=encode_position(tx_id, row.pk), tenant_id=tenant_id)
        for raw, row in zip(events, rows, strict=True)
    ]


def event_row(stream: Stream, raw: RawEvent, tx_id: int | None) -> Event:
    """The unsaved row of ``raw`` in ``stream``."""
    return Event(
        stream=stream,
        version=raw.version,
        uuid=raw.uuid,
        name=raw.name,
        data=raw.data,
        context=raw.context,
        created_at=to_db(raw.created_at),
        category=stream.category,
        tenant_id=stream.tenant_id,
        tx_id=tx_id,
    )
