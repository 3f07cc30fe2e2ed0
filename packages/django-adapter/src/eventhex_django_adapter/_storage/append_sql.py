"""One PostgreSQL statement that appends: claim the stream, insert the events and outbox rows.

The statement is a chain of data-modifying CTEs. Several events travel as one JSON array (one
parameter, cheap to send; ``jsonb_to_recordset`` turns it into rows), one event as scalar
parameters (the common case: PostgreSQL then has no array to unpack, which was about a tenth
of the one-event statement's time). So the statement's text depends only on the kind of claim
(:mod:`.claim`: ``new``, ``existing`` or ``any``), on whether outbox rows are written, on
notifying and on whether it carries one event, never on the number of events.

Nothing is claimed while one of the events' uuids is already stored, so the statement does not
fail on a duplicate uuid (short of a concurrent writer inserting the same uuid): it claims
nothing, and the slow path reports the duplicate. That lets an append inside the caller's
transaction run without a savepoint. The events are inserted only when the claim touched a
row, and the initial migration's trigger stamps their ``tx_id`` (the transaction's id plus the
stored shift); outbox rows are written from the inserted events (their positions, see
:mod:`.._codec`). The result is the inserted events' ``(id, tx_id)`` in insertion order, or no
row at all when the stream could not be claimed: the caller then finds out why (a conflict, a
versioning mismatch, or a race it can still win) on its slow path.

:func:`append_statement` builds the statement and its parameters for one append,
:func:`run_append` runs it and :func:`appended_records` turns its rows into the records the
in-transaction listeners receive.
"""

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.utils import timezone
from event_sourcery import StreamId
from event_sourcery.event import RawEvent, RecordedRaw

from eventhex_django_adapter._codec import encode_position, position_sql, to_db
from eventhex_django_adapter._db import statement_cursor, unprepared_after_loss
from eventhex_django_adapter._storage.claim import (
    ClaimKind,
    claim_ctes,
    claim_kind,
    claim_parameters,
)
from eventhex_django_adapter._storage.quiet import QUIET_EVENTS, QUIET_OUTBOX
from eventhex_django_adapter.outbox import DjangoOutboxStorageStrategy

__all__ = [
    "append_parameters",
    "append_sql",
    "append_statement",
    "appended_records",
    "run_append",
]

_VALUES = """v AS (
    SELECT * FROM jsonb_to_recordset(%(events)s::jsonb) AS v(
        n integer, uuid uuid, name text, data jsonb, context jsonb, created_at timestamptz,
        version integer, to_outbox boolean
    )
)"""
"""Several events' columns, from their JSON array (a one-event statement has none)."""

_UUIDS = {False: "ARRAY(SELECT uuid FROM v)", True: "ARRAY[%(uuid)s::uuid]"}
"""The append's uuids, by whether it carries one event."""

_UUIDS_FREE = """free AS (
    SELECT {quiet}NOT eventhex_uuids_stored({uuids}){end} AS ok
)"""
"""None of the events' uuids is stored yet (``uuids_stored.sql``: an index lookup per uuid).

A quiet append first silences the notify triggers of its own statement (``CASE`` fixes the
order: the switches are set before anything is inserted, so before the triggers fire at the
statement's end, and each trigger clears its switch for the statements after it)."""


def _uuids_free(notify: bool, outbox: bool, one: bool) -> str:
    if notify:
        return _UUIDS_FREE.format(quiet="", uuids=_UUIDS[one], end="")
    switches = f"{QUIET_EVENTS} || {QUIET_OUTBOX}" if outbox else QUIET_EVENTS
    quiet = f"CASE WHEN {switches} IS NOT NULL\n           THEN "
    return _UUIDS_FREE.format(quiet=quiet, uuids=_UUIDS[one], end=" END")


_INSERT_EVENTS = """e AS (
    INSERT INTO eventhex_event
        (stream_id, version, uuid, name, data, context, created_at, category, tenant_id, tx_id)
    SELECT s.id, {version}, {uuid}, {name}, {data}, {context}, {created_at},
           %(category)s::text, %(tenant)s::text, NULL::bigint
    FROM s{source}
    RETURNING id, tx_id, uuid
)"""

_INSERT_OUTBOX = f"""o AS (
    INSERT INTO eventhex_outboxentry
        (event_uuid, event_name, stream_uuid, stream_name, stream_category, tenant_id, version,
         position, created_at, data, context, attempts, max_attempts, dead, last_error,
         next_attempt_at, claimed_by, claimed_until, enqueued_at)
    SELECT e.uuid, {{name}}, %(stream)s::uuid, %(stream_name)s::text, %(category)s::text,
           %(tenant)s::text, {{version}},
           {position_sql("e.tx_id", "e.id")}, {{created_at}}, {{data}}, {{context}},
           0, %(max_attempts)s::integer, FALSE, '', NULL, NULL, NULL,
           %(enqueued_at)s::timestamptz
    FROM e{{source}}
)"""

_MANY = {
    "version": "v.version",
    "uuid": "v.uuid",
    "name": "v.name",
    "data": "v.data",
    "context": "v.context",
    "created_at": "v.created_at",
}
"""Where the event columns come from in a statement of several events: ``v``'s rows."""

_ONE = {
    "version": "%(version)s::integer",
    "uuid": "%(uuid)s::uuid",
    "name": "%(name)s::text",
    "data": "%(data)s::jsonb",
    "context": "%(context)s::jsonb",
    "created_at": "%(created_at)s::timestamptz",
}
"""Where they come from in a one-event statement: its parameters."""

_EVENTS_SOURCE = {False: " CROSS JOIN v\n    ORDER BY v.n", True: ""}
"""What the events' insert reads besides the claimed stream ``s``, by one event or several."""
_OUTBOX_SOURCE = {
    False: " JOIN v ON v.uuid = e.uuid\n    WHERE v.to_outbox\n    ORDER BY e.id",
    True: "",  # its outbox rows are written only when the outbox accepts its one event
}

_SQL_CACHE: dict[tuple[ClaimKind, bool, bool, bool], str] = {}


def append_statement(
    stream_id: StreamId,
    tenant_id: str,
    expected: int | None,
    events: Sequence[RawEvent],
    payloads: Sequence[tuple[str, str]],
    outbox: DjangoOutboxStorageStrategy | None,
    notify: bool = True,
) -> tuple[str, dict[str, Any]]:
    """The statement that appends ``events`` with ``expected`` version, and its parameters.

    It writes outbox rows only when ``outbox`` accepts one of the events at least, and sends
    no notification unless ``notify`` (the transaction's other statements still do).
    """
    claim = claim_kind(expected)
    if outbox is not None and not any(outbox.accepts(raw) for raw in events):
        outbox = None
    sql = append_sql(claim, outbox is not None, notify, len(events) == 1)
    params = append_parameters(
        stream_id,
        tenant_id,
        expected,
        events,
        payloads,
        None if outbox is None else outbox.accepts,
        0 if outbox is None else outbox.max_attempts,
        timezone.now(),
    )
    return sql, params


def run_append(
    alias: str, sql: str, params: dict[str, Any], prepare: bool = True
) -> list[tuple[int, int]]:
    """Run an append statement; the inserted events' ``(id, tx_id)``, none if it claimed nothing.

    ``prepare``: let psycopg prepare the statement on the connection (see :mod:`.._db`).
    """

    def run(prepared: bool) -> list[tuple[int, int]]:
        with statement_cursor(alias, prepared) as cursor:
            cursor.execute(sql, params)
            rows: list[tuple[int, int]] = cursor.fetchall()
        return rows

    return unprepared_after_loss(alias, run, prepare)


def appended_records(
    events: Sequence[RawEvent], rows: Sequence[tuple[int, int]], tenant_id: str
) -> list[RecordedRaw]:
    """The records of ``events`` that :func:`run_append` inserted as ``rows``."""
    return [
        RecordedRaw(entry=raw, position=encode_position(tx_id, row_id), tenant_id=tenant_id)
        for raw, (row_id, tx_id) in zip(events, rows, strict=True)
    ]


def append_sql(claim: ClaimKind, outbox: bool, notify: bool = True, one: bool = False) -> str:
    """The statement for a ``claim`` of the stream, writing outbox rows when ``outbox``,
    notifying when ``notify``, for exactly one event when ``one`` (else for any number)."""
    key = (claim, outbox, notify, one)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        columns = _ONE if one else _MANY
        parts = [
            *([] if one else [_VALUES]),
            _uuids_free(notify, outbox, one),
            *claim_ctes(claim, "(SELECT ok FROM free)"),
            _INSERT_EVENTS.format(source=_EVENTS_SOURCE[one], **columns),
        ]
        if outbox:
            parts.append(_INSERT_OUTBOX.format(source=_OUTBOX_SOURCE[one], **columns))
        order = "" if one else " ORDER BY id"
        sql = _SQL_CACHE[key] = "WITH " + ",\n".join(parts) + "\nSELECT id, tx_id FROM e" + order
    return sql


@lru_cache(maxsize=1024)
def _json_name(name: str) -> str:
    """An event name as a JSON string (an application has few names: encoded once each)."""
    return json.dumps(name)


def append_parameters(
    stream_id: StreamId,
    tenant_id: str,
    expected: int | None,
    events: Sequence[RawEvent],
    payloads: Sequence[tuple[str, str]],
    accepts: Callable[[RawEvent], bool] | None,
    max_attempts: int,
    enqueued_at: datetime,
) -> dict[str, Any]:
    """The parameters of :func:`append_sql` (its one-event form for one event).

    Args:
        payloads: Each event's data and context as JSON text, as the input checks encoded them
            (spliced into the events array rather than encoded again).
        accepts: The outbox filter; ``None`` when no outbox rows are written.
    """
    new_version = None if expected is None else events[-1].version
    params: dict[str, Any] = {
        **claim_parameters("postgresql", tenant_id, stream_id, expected, new_version),
        "max_attempts": max_attempts,
        "enqueued_at": enqueued_at,
    }
    if len(events) == 1:
        raw, (data, context) = events[0], payloads[0]
        params["uuid"] = raw.uuid
        params["name"] = raw.name
        params["data"] = data
        params["context"] = context
        params["created_at"] = to_db(raw.created_at).isoformat()
        params["version"] = None if raw.version is None else int(raw.version)
        return params
    params["events"] = (
        "["
        + ",".join(
            f'{{"n":{n},"uuid":"{raw.uuid}","name":{_json_name(raw.name)},"data":{data},'
            f'"context":{context},"created_at":"{to_db(raw.created_at).isoformat()}",'
            f'"version":{"null" if raw.version is None else int(raw.version)},'
            f'"to_outbox":{"true" if accepts is not None and accepts(raw) else "false"}}}'
            for n, (raw, (data, context)) in enumerate(zip(events, payloads, strict=True))
        )
        + "]"
    )
    return params
