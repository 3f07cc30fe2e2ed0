"""The database helpers every room shares: the driver, cursors, fetching rows, prepared statements.

With psycopg 3 the adapter runs its statements on psycopg cursors of Django's connection (so in
the caller's transaction): :func:`fetch` reads rows in binary, :func:`statement_cursor` binds
parameters server-side; with psycopg2 both are Django's own cursor.

The adapter's statements are prepared, whatever Django's setting says. Django turns psycopg's
prepared statements off unless ``"prepare_threshold"`` is set in the database ``OPTIONS`` (for
the sake of connection poolers that cannot keep them). The adapter's statements are few, long
and run constantly, so planning them on every call is a large share of an append or a read.
:func:`adapter_statements` lets psycopg prepare them on their first use on a connection, and
only them: the project's own queries keep Django's behaviour. A project whose ``OPTIONS`` name
a threshold keeps it for every query. Behind a pooler that cannot keep prepared statements
(PgBouncer in transaction mode before 1.21, or with ``max_prepared_statements = 0``), set
``DjangoConfig(prepared_statements=False)``.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, cast

from django.db import connections
from django.db.utils import ProgrammingError

from eventhex_django_adapter._codec import fresh

__all__ = [
    "PreparedStatementsUnavailable",
    "adapter_statements",
    "driver_is_psycopg3",
    "fetch",
    "statement_cursor",
]

_INVALID_STATEMENT_NAME = "26000"


class PreparedStatementsUnavailable(ProgrammingError):
    """The server lost a statement the adapter prepared: a pooler switched sessions under it."""


@contextmanager
def adapter_statements(raw_connection: Any, prepare: bool) -> Iterator[None]:
    """Run the adapter's statements on ``raw_connection`` (psycopg 3), prepared when ``prepare``.

    Raises:
        PreparedStatementsUnavailable: The server no longer knows a prepared statement,
            which a connection pooler without prepared-statement support causes.
    """
    switch = prepare and raw_connection.prepare_threshold is None
    if switch:
        raw_connection.prepare_threshold = 0
    try:
        yield
    except Exception as error:
        if switch and _sqlstate(error) == _INVALID_STATEMENT_NAME:
            raise PreparedStatementsUnavailable(
                f"The database lost a statement eventhex prepared ({error}). A connection "
                "pooler that does not keep prepared statements sits between Django and "
                "PostgreSQL: set DjangoConfig(prepared_statements=False), or enable prepared "
                "statements in the pooler (PgBouncer 1.21+: max_prepared_statements)."
            ) from error
        raise
    finally:
        if switch:
            raw_connection.prepare_threshold = None


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, error.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def driver_is_psycopg3() -> bool:
    """Whether Django talks to PostgreSQL through psycopg 3 (rather than psycopg2)."""
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return bool(is_psycopg3)


def fetch(
    alias: str,
    sql: str,
    params: Sequence[object] | Mapping[str, object],
    binary: bool,
    prepare: bool = True,
    *,
    json_text: bool = False,
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the alias's connection; with psycopg 3, fetch rows in binary.

    With psycopg 3 the statement is prepared on the connection unless ``prepare`` is false
    (see :func:`adapter_statements`). ``jsonb`` columns come back decoded (objects as
    ``FreshJson``), or as their JSON text when ``json_text`` (with psycopg2 they are always
    text: Django does not decode them).

    Binary rows are cheaper to decode, but Django's cursors bind parameters client-side, which
    rules binary results out; a psycopg cursor on the same connection (so in the same
    transaction) is used instead, behind Django's thread, broken-transaction and
    error-translation checks. With psycopg2, Django's own cursor reads text rows.
    """
    connection = connections[alias]
    if not binary:
        with connection.cursor() as cursor:
            cursor.execute(sql, cast(Any, params if isinstance(params, Mapping) else list(params)))
            return list(cursor.fetchall())
    import psycopg

    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    raw = connection.connection
    with (
        connection.wrap_database_errors,
        adapter_statements(raw, prepare),
        psycopg.Cursor(raw) as cursor,
    ):
        cursor.adapters.register_loader("jsonb", _jsonb_loader(json_text))
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


@contextmanager
def statement_cursor(alias: str, prepare: bool = True) -> Iterator[Any]:
    """A Django cursor on ``alias`` whose statements psycopg 3 binds server-side.

    Server-side binding lets psycopg prepare the statement (when ``prepare``, see
    :func:`adapter_statements`), which skips planning a long statement on every call. The
    psycopg cursor is wrapped like Django's own, so execute wrappers, error translation and
    query logging still apply. With psycopg2 it is Django's cursor.
    """
    connection = connections[alias]
    if not driver_is_psycopg3():
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw: Any = psycopg.Cursor(connection.connection)  # Django's stubs expect its own wrapper
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with adapter_statements(connection.connection, prepare), wrapped as cursor:
        yield cursor


@cache
def _jsonb_loader(text: bool = False) -> type[Any]:
    """A binary ``jsonb`` loader: the value's JSON text when ``text``, else the decoded value.

    psycopg's own loader hands bytes to ``json.loads``, which first detects their encoding; the
    text PostgreSQL sends is always UTF-8 and one complete JSON value, so it is decoded to
    ``str`` and parsed by the same decoder directly (same values, about 40 % less time per
    column). Objects come back as ``FreshJson``: each row is decoded for one read, so
    ``FastSerde`` may hand them to events without copying. A value nested too deeply to decode
    comes back as its JSON text, so the fetch succeeds and only the row that holds it fails,
    when :func:`.._codec.json_value` (or the serde) decodes it.
    """
    from psycopg import DataError, adapt, pq

    decode = json.JSONDecoder().raw_decode

    class JsonbLoader(adapt.Loader):
        format = pq.Format.BINARY

        def load(self, data: Any) -> Any:
            if data and data[0] != 1:
                raise DataError(f"unknown jsonb binary format: {data[0]}")
            value = str(data[1:], "utf-8")
            if text:
                return value
            try:
                return fresh(decode(value)[0])
            except RecursionError:  # one stored row must not fail the whole fetch
                return value  # the text: decoding it again raises a clear error, for that row

    return JsonbLoader
