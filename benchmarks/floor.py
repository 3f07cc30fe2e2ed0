"""The raw-SQL floor: the same rows eventhex writes, written and read with plain psycopg.

Tables mirror the eventhex schema (a stream table and an event table with the same unique
constraints, indexes and the ``tx_id`` column default, plus an outbox table), so the floor is
what the database itself costs for each scenario, without any ORM or event_sourcery code.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg

from benchmarks._events import order_placed

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
CREATE INDEX ON event (stream_id);
CREATE INDEX ON event (tx_id, id);
CREATE INDEX ON event (category, tx_id, id);
CREATE INDEX ON event (name, tx_id, id);
CREATE TABLE outbox (
  id bigserial PRIMARY KEY, event_uuid uuid NOT NULL, event_name varchar(255) NOT NULL,
  stream_uuid uuid NOT NULL, data jsonb NOT NULL, context jsonb NOT NULL,
  attempts integer NOT NULL DEFAULT 0, dead boolean NOT NULL DEFAULT false);
CREATE INDEX ON outbox (dead, id);
"""

INSERT_STREAM = (
    "INSERT INTO stream (uuid, name, category, version) VALUES (%s, %s, 'order', %s) RETURNING id"
)
INSERT_EVENT = (
    "INSERT INTO event (stream_id, version, uuid, name, data, context, created_at, category) "
    "VALUES (%s, %s, %s, 'OrderPlaced', %s, %s, %s, 'order')"
)
CONTEXT = json.dumps({"correlation_id": None, "causation_id": None})


def _payload() -> str:
    return order_placed().model_dump_json()


def _rows(stream_pk: int, count: int, first_version: int = 1) -> Iterator[tuple[Any, ...]]:
    now = datetime.now(UTC)
    for version in range(first_version, first_version + count):
        yield (stream_pk, version, uuid.uuid4(), _payload(), CONTEXT, now)


def _connect(dsn: str) -> psycopg.Connection[Any]:
    connection = psycopg.connect(dsn)
    with connection.transaction():
        connection.execute(SCHEMA)
    return connection


def _stream(cursor: psycopg.Cursor[Any], version: int | None = 1) -> int:
    row = cursor.execute(INSERT_STREAM, (uuid.uuid4(), f"order-{uuid.uuid4()}", version)).fetchone()
    assert row is not None
    return int(row[0])


def per_commit(dsn: str, n: int, size: int = 1) -> Result:
    """``n`` transactions, each inserting a stream row and ``size`` event rows."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(n):
            with connection.transaction():
                stream_pk = _stream(cursor, size)
                cursor.executemany(INSERT_EVENT, list(_rows(stream_pk, size)))
        elapsed = time.perf_counter() - started
    return {"value": n * size / elapsed, "unit": "events/s", "events": n * size}


def versioned(dsn: str, n: int) -> Result:
    """``n`` transactions on one stream: a conditional version bump and one event row."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        with connection.transaction():
            stream_pk = _stream(cursor, 0)
        started = time.perf_counter()
        for version in range(1, n + 1):
            with connection.transaction():
                cursor.execute(
                    "UPDATE stream SET version = %s WHERE id = %s AND version = %s",
                    (version, stream_pk, version - 1),
                )
                assert cursor.rowcount == 1
                cursor.executemany(INSERT_EVENT, list(_rows(stream_pk, 1, version)))
        elapsed = time.perf_counter() - started
    return {"value": n / elapsed, "unit": "events/s", "events": n}


def executemany(dsn: str, n: int) -> Result:
    """``n`` event rows of one stream with ``executemany`` in one transaction."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        started = time.perf_counter()
        with connection.transaction():
            stream_pk = _stream(cursor, n)
            cursor.executemany(INSERT_EVENT, list(_rows(stream_pk, n)))
        elapsed = time.perf_counter() - started
    return {"value": n / elapsed, "unit": "events/s", "events": n}


def _copy_events(connection: psycopg.Connection[Any], stream_pk: int, n: int) -> None:
    columns = "stream_id, version, uuid, name, data, context, created_at, category"
    with connection.cursor().copy(f"COPY event ({columns}) FROM STDIN") as copy:
        for pk, version, event_uuid, data, context, created in _rows(stream_pk, n):
            copy.write_row(
                (pk, version, event_uuid, "OrderPlaced", data, context, created, "order")
            )


def copy(dsn: str, n: int) -> Result:
    """``n`` event rows of one stream with ``COPY`` in one transaction."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        started = time.perf_counter()
        with connection.transaction():
            _copy_events(connection, _stream(cursor, n), n)
        elapsed = time.perf_counter() - started
    return {"value": n / elapsed, "unit": "events/s", "events": n}


def load(dsn: str, n: int, loads: int = 7) -> Result:
    """Read a stream of ``n`` events (all columns, JSON decoded); median milliseconds."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        with connection.transaction():
            stream_pk = _stream(cursor, n)
            _copy_events(connection, stream_pk, n)
        times = []
        for _ in range(loads):
            started = time.perf_counter()
            cursor.execute(
                "SELECT id, version, uuid, name, data, context, created_at FROM event "
                "WHERE stream_id = %s ORDER BY version",
                (stream_pk,),
            )
            rows = cursor.fetchall()
            connection.commit()
            times.append(time.perf_counter() - started)
            assert len(rows) == n
    return {"value": statistics.median(times) * 1000, "unit": "ms", "events": n}


def catch_up(dsn: str, n: int, batch: int = 500) -> Result:
    """Keyset-paginate ``n`` events by ``(tx_id, id)`` in pages of ``batch``."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        with connection.transaction():
            _copy_events(connection, _stream(cursor, n), n)
        started = time.perf_counter()
        last, received = (0, 0), 0
        while received < n:
            rows = cursor.execute(
                "SELECT tx_id, id, stream_id, version, uuid, name, data, context, created_at "
                "FROM event WHERE (tx_id, id) > (%s, %s) "
                "AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
                "ORDER BY tx_id, id LIMIT %s",
                (*last, batch),
            ).fetchall()
            connection.commit()
            received += len(rows)
            last = (rows[-1][0], rows[-1][1])
        elapsed = time.perf_counter() - started
    return {"value": received / elapsed, "unit": "events/s", "events": received}


def outbox_drain(dsn: str, n: int, batch: int = 500) -> Result:
    """Drain ``n`` outbox rows: lock a batch (``SKIP LOCKED``), hand it out, delete it."""
    with _connect(dsn) as connection, connection.cursor() as cursor:
        with connection.transaction():
            cursor.executemany(
                "INSERT INTO outbox (event_uuid, event_name, stream_uuid, data, context) "
                "VALUES (%s, 'OrderPlaced', %s, %s, %s)",
                [(uuid.uuid4(), uuid.uuid4(), _payload(), CONTEXT) for _ in range(n)],
            )
        published: list[Any] = []
        started = time.perf_counter()
        while True:
            with connection.transaction():
                rows = cursor.execute(
                    "SELECT id, event_uuid, event_name, stream_uuid, data, context FROM outbox "
                    "WHERE NOT dead ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (batch,),
                ).fetchall()
                if not rows:
                    break
                published.extend(rows)
                cursor.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([r[0] for r in rows],))
        elapsed = time.perf_counter() - started
    assert len(published) == n
    return {"value": n / elapsed, "unit": "messages/s", "messages": n}


FLOORS: dict[str, Callable[[str, int], Result]] = {
    "append_single": per_commit,
    "append_batch10": lambda dsn, n: per_commit(dsn, n, 10),
    "append_versioned": versioned,
    "load_1000": load,
    "catchup": catch_up,
    "outbox_drain": outbox_drain,
    "floor_executemany": executemany,
    "floor_copy": copy,
}
