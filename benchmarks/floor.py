"""The floor: the same work as eventhex, hand-written with psycopg, under the same conditions.

The tables mirror eventhex's (a stream table and an event table with the same unique
constraints, indexes, the ``tx_id`` stamp and a statement-level ``pg_notify`` trigger that wakes
subscribers; an outbox table with the same columns), so the floor is what the database and the
driver cost for each scenario. Each write is the fewest round trips hand-written code needs:
one statement (a CTE that claims the stream and inserts the events), inside a transaction
(``BEGIN``/``COMMIT``) when the run's mode puts every unit of work in ``transaction.atomic()``.
psycopg prepares a statement after its fifth use, as it does by default.

Reads build what the API returns, from the stored JSON with pydantic's
``model_validate_json``: ``WrappedEvent``s for a stream load, ``Recorded``s for a catch-up and
for ``Outbox.run``. The relay floor (:func:`outbox_claim`) hands out rows, as a relay does.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

import psycopg
from event_sourcery import StreamId
from event_sourcery.event import Context, Recorded, WrappedEvent

from benchmarks._events import Written, new_stream, written
from benchmarks._measured import measured, watch_backend

Result = dict[str, Any]

SCHEMA = """
CREATE TABLE stream (
  id bigserial PRIMARY KEY, uuid uuid NOT NULL, name varchar(255),
  category varchar(255) NOT NULL DEFAULT '', tenant_id varchar(255) NOT NULL DEFAULT '',
  version bigint,
  UNIQUE (tenant_id, category, uuid), UNIQUE (tenant_id, category, name));
CREATE TABLE event (
  id bigserial PRIMARY KEY, stream_id bigint NOT NULL REFERENCES stream (id) ON DELETE CASCADE,
  version integer, uuid uuid NOT NULL UNIQUE, name varchar(255) NOT NULL,
  data jsonb NOT NULL, context jsonb NOT NULL, created_at timestamptz NOT NULL,
  category varchar(255) NOT NULL DEFAULT '', tenant_id varchar(255) NOT NULL DEFAULT '',
  tx_id bigint DEFAULT pg_current_xact_id()::text::bigint,
  UNIQUE (stream_id, version));
CREATE INDEX ON event (tx_id, id);
CREATE INDEX ON event (category, tx_id, id);
CREATE INDEX ON event (name, tx_id, id);
CREATE FUNCTION notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('events', ''); RETURN NULL; END; $$;
CREATE TRIGGER event_notify AFTER INSERT ON event
  FOR EACH STATEMENT EXECUTE FUNCTION notify_events();
CREATE TABLE outbox (
  id bigserial PRIMARY KEY, event_uuid uuid NOT NULL, event_name varchar(255) NOT NULL,
  stream_uuid uuid NOT NULL, stream_name varchar(255), stream_category varchar(255) NOT NULL,
  tenant_id varchar(255) NOT NULL DEFAULT '', version integer, position numeric(40) NOT NULL,
  created_at timestamptz NOT NULL, data jsonb NOT NULL, context jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0, dead boolean NOT NULL DEFAULT false);
CREATE INDEX ON outbox (dead, id);
"""

DROP_NOTIFY = "DROP TRIGGER event_notify ON event"
"""Turns the floor's wake-ups off (the writers benchmark measures with and without)."""

APPEND = """
WITH s AS (
  INSERT INTO stream (uuid, name, category, version) VALUES (%s, %s, 'order', %s) RETURNING id)
INSERT INTO event (stream_id, version, uuid, name, data, context, created_at, category)
SELECT s.id, v.version, v.uuid, 'Written', v.data, v.context, %s, 'order'
FROM s, unnest(%s::integer[], %s::uuid[], %s::jsonb[], %s::jsonb[])
  AS v(version, uuid, data, context)"""
"""One append: the stream row and its events in one statement."""

APPEND_VERSIONED = """
WITH s AS (
  UPDATE stream SET version = %s
  WHERE tenant_id = '' AND category = 'order' AND uuid = %s AND version = %s RETURNING id)
INSERT INTO event (stream_id, version, uuid, name, data, context, created_at, category)
SELECT s.id, %s, %s, 'Written', %s, %s, %s, 'order' FROM s"""
"""One versioned append: bump the version where it is still the expected one, insert."""

LOAD = """
SELECT e.version, e.uuid, e.data::text, e.context::text, e.created_at
FROM stream s JOIN event e ON e.stream_id = s.id
WHERE s.tenant_id = '' AND s.category = 'order' AND s.uuid = %s
ORDER BY e.version"""

PAGE = """
WITH page AS (
  SELECT * FROM event
  WHERE (tx_id, id) > (%s, %s) AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
  ORDER BY tx_id, id LIMIT %s)
SELECT p.tx_id, p.id, s.uuid, s.name, s.category, p.version, p.uuid, p.data::text,
       p.context::text, p.created_at, p.tenant_id
FROM page p CROSS JOIN LATERAL (
  SELECT uuid, name, category FROM stream WHERE id = p.stream_id OFFSET 0) s
ORDER BY p.tx_id, p.id"""
"""A catch-up page in commit order, whatever the tables' statistics say: the page is cut before
the join, so PostgreSQL walks the ``(tx_id, id)`` index and stops after ``limit`` rows, and each
row finds its stream by primary key (``OFFSET 0`` keeps the lookup from becoming a hash join
over every stream)."""

CLAIM = """
SELECT id, event_uuid, event_name, stream_uuid, stream_name, stream_category, tenant_id,
       version, position, created_at, data::text, context::text
FROM outbox WHERE NOT dead ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"""

CONTEXT = Context().model_dump_json()
"""The stored context of every floor event (no correlation, no components)."""

Unit = Callable[[], AbstractContextManager[Any]]


def connect(dsn: str, schema: bool = True) -> psycopg.Connection[Any]:
    """An autocommit connection (``transaction()`` blocks open transactions); creates the
    tables on the first call for a database."""
    connection = psycopg.connect(dsn, autocommit=True)
    watch_backend(connection.info.backend_pid)
    if schema:
        with connection.transaction():
            connection.execute(SCHEMA)
    return connection


def unit(connection: psycopg.Connection[Any], atomic: bool) -> Unit:
    """A unit of work: a transaction when ``atomic``, else each statement commits alone."""
    return connection.transaction if atomic else nullcontext


def append_args(stream: StreamId, events: list[Written]) -> tuple[Any, ...]:
    """The parameters of :data:`APPEND` for ``events`` appended to a new stream ``stream``."""
    count, first_version = len(events), 1
    return (
        stream,
        stream.name,
        first_version + count - 1,
        datetime.now(UTC),
        list(range(first_version, first_version + count)),
        [uuid.uuid4() for _ in range(count)],
        [event.model_dump_json() for event in events],
        [CONTEXT] * count,
    )


def appends(dsn: str, n: int, atomic: bool, size: int = 1) -> Result:
    """``n`` appends of ``size`` events, each to a new stream, each its own unit of work."""
    batches = [[written() for _ in range(size)] for _ in range(n + 1)]
    streams = [new_stream() for _ in range(n + 1)]
    with connect(dsn) as connection:
        work = unit(connection, atomic)
        with work():
            connection.execute(APPEND, append_args(streams[0], batches[0]))  # warm-up
        with measured() as clock:
            for stream, batch in zip(streams[1:], batches[1:], strict=True):
                with work():
                    connection.execute(APPEND, append_args(stream, batch))
        elapsed = clock.seconds
    return {"value": n * size / elapsed, "unit": "events/s", "events": n * size}


def versioned(dsn: str, n: int, atomic: bool) -> Result:
    """``n`` appends of one event to one stream, each checking the expected version."""
    events = [written() for _ in range(n)]
    stream = new_stream()
    with connect(dsn) as connection:
        work = unit(connection, atomic)
        with work():
            connection.execute(APPEND, append_args(stream, [written()]))
        with measured() as clock:
            for version, event in enumerate(events, start=2):
                with work():
                    cursor = connection.execute(
                        APPEND_VERSIONED,
                        (version, stream, version - 1, version, uuid.uuid4(),
                         event.model_dump_json(), CONTEXT, datetime.now(UTC)),
                    )  # fmt: skip
                    if cursor.rowcount != 1:
                        raise AssertionError(f"version {version - 1} of {stream} not claimed")
        elapsed = clock.seconds
    return {"value": n / elapsed, "unit": "events/s", "events": n}


def wrapped_events(rows: list[tuple[Any, ...]]) -> list[WrappedEvent[Written]]:
    """What ``EventStore.load_stream`` returns, built from :data:`LOAD` rows."""
    validate, context = Written.model_validate_json, Context.model_validate_json
    return [
        WrappedEvent(validate(data), version, event_uuid, created, context(ctx))
        for version, event_uuid, data, ctx, created in rows
    ]


def load(dsn: str, n: int, atomic: bool, loads: int = 7) -> Result:
    """Load a stream of ``n`` events ``loads`` times into ``WrappedEvent``s; median ms."""
    stream = new_stream()
    with connect(dsn) as connection:
        connection.execute(APPEND, append_args(stream, [written() for _ in range(n)]))
        work = unit(connection, atomic)
        with work():
            assert len(wrapped_events(connection.execute(LOAD, (stream,)).fetchall())) == n
        times = []
        for _ in range(loads):
            with measured() as clock, work():
                loaded = wrapped_events(connection.execute(LOAD, (stream,)).fetchall())
            times.append(clock.seconds)
            assert len(loaded) == n
    return {"value": statistics.median(times) * 1000, "unit": "ms", "events": n}


def recorded(rows: list[tuple[Any, ...]]) -> list[Recorded]:
    """What a subscription batch holds, built from :data:`PAGE` rows."""
    validate, context = Written.model_validate_json, Context.model_validate_json
    return [
        Recorded(
            WrappedEvent(validate(row[7]), row[5], row[6], row[9], context(row[8])),
            StreamId(uuid=row[2], name=row[3], category=row[4] or None),
            (row[0] << 64) | row[1],
            row[10],
        )
        for row in rows
    ]


def seed(connection: psycopg.Connection[Any], n: int, per_transaction: int = 100) -> None:
    """``n`` events in transactions of ``per_transaction``, each to a new stream, without
    waiting for the disk (seeding is not measured)."""
    written_so_far = 0
    while written_so_far < n:
        size = min(per_transaction, n - written_so_far)
        with connection.transaction():
            connection.execute("SET LOCAL synchronous_commit = off")
            connection.execute(APPEND, append_args(new_stream(), [written() for _ in range(size)]))
        written_so_far += size


def rss_kib(field: str) -> int:
    """``VmRSS`` or ``VmHWM`` (peak) of this process, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def reset_peak_rss() -> int:
    """Reset the kernel's peak resident set (``VmHWM``); return the current one (KiB)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return rss_kib("VmRSS")


def catch_up(dsn: str, n: int, atomic: bool, batch: int = 500) -> Result:
    """Read ``n`` events from the start in pages of ``batch``, as ``Recorded``s, outside a
    transaction (as a subscriber process does); also the resident set's growth."""
    del atomic  # a subscriber reads outside the caller's transaction in both modes
    with connect(dsn) as connection:
        seed(connection, n)
        statistics_before = table_statistics(connection)
        before = reset_peak_rss()
        last, received = (0, 0), 0
        with measured() as clock:
            while received < n:
                page = recorded(connection.execute(PAGE, (*last, batch)).fetchall())
                received += len(page)
                last = (page[-1].position >> 64, page[-1].position & (2**64 - 1))
        elapsed = clock.seconds
        growth = (rss_kib("VmHWM") - before) / 1024
        statistics_after = table_statistics(connection)
    return {
        "value": received / elapsed,
        "unit": "events/s",
        "events": received,
        "rss_growth_mib": growth,
        "peak_rss_mib": rss_kib("VmHWM") / 1024,
        "statistics_before": statistics_before,
        "statistics_after": statistics_after,
    }


def table_statistics(connection: psycopg.Connection[Any]) -> str:
    """When the floor's event table was last analyzed, as a short note."""
    row = connection.execute(
        "SELECT analyze_count + autoanalyze_count, n_mod_since_analyze, "
        "vacuum_count + autovacuum_count FROM pg_stat_user_tables WHERE relname = 'event'"
    ).fetchone()
    if row is None:
        return "?"
    return f"event: analyzed {row[0]}x, {row[1]} rows changed since, vacuumed {row[2]}x"


def fill_outbox(connection: psycopg.Connection[Any], n: int, streams: int = 100) -> None:
    """``n`` outbox rows round-robin over ``streams`` streams, in one transaction."""
    now = datetime.now(UTC)
    stream_ids = [new_stream() for _ in range(streams)]
    columns = (
        "event_uuid, event_name, stream_uuid, stream_name, stream_category, version, position, "
        "created_at, data, context"
    )
    with (
        connection.transaction(),
        connection.cursor().copy(f"COPY outbox ({columns}) FROM STDIN") as copy,
    ):
        for i in range(n):
            copy.write_row(
                (uuid.uuid4(), "Written", stream_ids[i % streams], stream_ids[i % streams].name,
                 "order",
                 i // streams + 1, i + 1, now, written().model_dump_json(), CONTEXT)
            )  # fmt: skip


def outbox_records(rows: list[tuple[Any, ...]]) -> Iterator[Recorded]:
    """The ``Recorded`` that ``Outbox.run`` hands its publisher, per claimed row."""
    validate, context = Written.model_validate_json, Context.model_validate_json
    for (_, event_uuid, _, stream_uuid, name, category, tenant, version, position, created,
         data, ctx) in rows:  # fmt: skip
        yield Recorded(
            WrappedEvent(validate(data), version, event_uuid, created, context(ctx)),
            StreamId(uuid=stream_uuid, name=name, category=category or None),
            int(position),
            tenant,
        )


def outbox_drain(
    dsn: str, n: int, atomic: bool, batch: int = 500, build: bool = True, streams: int = 100
) -> Result:
    """Drain ``n`` outbox rows over ``streams`` streams: lock a batch (``SKIP LOCKED``), hand
    out each entry (as a ``Recorded`` when ``build``), delete the batch, commit."""
    del atomic  # draining is always transactional
    with connect(dsn) as connection:
        fill_outbox(connection, n, streams)
        # Without statistics, PostgreSQL would sort the whole backlog for every batch.
        connection.execute("SET enable_seqscan = off")
        published: list[int] = []
        with measured() as clock:
            while _drain_batch(connection, batch, build, published):
                pass
        elapsed = clock.seconds
    assert len(published) == n
    return {"value": n / elapsed, "unit": "messages/s", "messages": n}


def _drain_batch(
    connection: psycopg.Connection[Any], batch: int, build: bool, published: list[int]
) -> bool:
    """One transaction of :func:`outbox_drain`; whether it found entries."""
    with connection.transaction():
        rows = connection.execute(CLAIM, (batch,)).fetchall()
        if not rows:
            return False
        if build:
            published.extend(record.position for record in outbox_records(rows))
        else:
            published.extend(row[0] for row in rows)
        connection.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([row[0] for row in rows],))
    return True


def outbox_claim(dsn: str, n: int, atomic: bool) -> Result:
    """The relay's floor: :func:`outbox_drain` in batches of 1,000, rows handed out as read."""
    return outbox_drain(dsn, n, atomic, batch=1000, build=False)


FLOORS: dict[str, Callable[[str, int, bool], Result]] = {
    "append_single": appends,
    "append_batch10": lambda dsn, n, atomic: appends(dsn, n, atomic, 10),
    "append_versioned": versioned,
    "load_1000": load,
    "catchup": catch_up,
    "catchup_1m": catch_up,
    "outbox_drain": outbox_drain,
    "relay_floor": outbox_claim,
    "outbox_deep": lambda dsn, n, atomic: outbox_drain(dsn, n, True, batch=100, streams=50),
}
