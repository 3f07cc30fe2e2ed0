"""Appending through the ORM: every append on SQLite, and PostgreSQL's slow path.

SQLite has no data-modifying CTEs, so an append there is one ``transaction.atomic`` block of
three statements whatever the number of events: :func:`claim_with_returning` claims the stream
(``INSERT ... ON CONFLICT DO NOTHING RETURNING``, or a conditional ``UPDATE ... RETURNING``),
then :func:`insert_event_rows` inserts the events with one bulk ``INSERT``, and the outbox, when
there is one, writes its rows with another. When the direct claim fails,
:func:`._stream_rows.claim_stream` finds out why. PostgreSQL inserts events here only when its
one-statement append could not claim the stream; its rows then carry the transaction's
``tx_id`` (see :mod:`._position`).
"""

from django.db import connections
from event_sourcery.event import RawEvent, RecordedRaw

from eventhex_core_ports.stream_claim import StreamClaim
from eventhex_django_adapter._datetimes import to_db
from eventhex_django_adapter._position import transaction_tx_id
from eventhex_django_adapter._records import category_of, encode_position
from eventhex_django_adapter.models import Event, Stream

__all__ = ["claim_with_returning", "event_row", "insert_event_rows"]


def claim_with_returning(alias: str, tenant_id: str, claim: StreamClaim) -> Stream | None:
    """Claim the stream with one statement each way (SQLite); ``None``: take the slow path.

    A new stream is inserted (``ON CONFLICT DO NOTHING``), an existing one has its version
    moved on only if it is still the expected one; unversioned appends try both. Needs
    ``RETURNING`` (SQLite 3.35+).
    """
    connection = connections[alias]
    if not connection.features.can_return_columns_from_insert:
        return None
    stream_id, expected, version = claim.stream_id, claim.version, claim.new_version
    category = category_of(stream_id)
    table = Stream._meta.db_table
    found = None
    with connection.cursor() as cursor:
        if expected is None or expected == 0:
            cursor.execute(
                f"INSERT INTO {table} (uuid, name, category, tenant_id, version) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                [stream_id.hex, stream_id.name, category, tenant_id, version],
            )
            found = cursor.fetchone()
        if found is None and expected != 0:
            matches = "version IS NULL" if expected is None else "version = %s"
            cursor.execute(
                f"UPDATE {table} SET version = %s, name = COALESCE(name, %s) "
                "WHERE tenant_id = %s AND category = %s AND uuid = %s "
                f"AND {matches} RETURNING id",
                [version, stream_id.name, tenant_id, category, stream_id.hex]
                + ([] if expected is None else [expected]),
            )
            found = cursor.fetchone()
    if found is None:
        return None
    stream = Stream(
        pk=found[0],
        uuid=stream_id,
        name=stream_id.name,
        category=category,
        tenant_id=tenant_id,
        version=version,
    )
    stream._state.adding, stream._state.db = False, alias
    return stream


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
