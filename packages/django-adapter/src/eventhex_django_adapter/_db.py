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
a threshold keeps it for its own queries.

Behind a pooler that hands each transaction another server session and cannot keep prepared
statements (PgBouncer in transaction mode before 1.21, or with ``max_prepared_statements = 0``),
a statement prepared in one session is missing in the next, or another client already prepared
one under the same name there (ADR 0019):

- Statements are named after their text (``eventhex_<digest of the SQL and parameter
  types>_<n>``) instead of psycopg's ``_pg3_<n>``, so a name on a shared server session always
  means the same statement: a client can never run another client's SQL with its parameters.
- The first "does not exist" or "already exists" error makes the adapter stop preparing on that
  database alias for the rest of the process (with a warning). A statement outside a
  transaction is then run again unprepared (nothing ran: the error comes before execution);
  inside one it raises :class:`PreparedStatementsUnavailable`, whose message names the fix,
  since the transaction is lost. Never a raw ``ProgrammingError``.

Set ``DjangoConfig(prepared_statements=False)`` behind such a pooler to skip even that one error.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, wraps
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

from django.db import DatabaseError, connections
from django.db.utils import ProgrammingError

from eventhex_django_adapter._codec import fresh

__all__ = [
    "PreparedStatementsUnavailable",
    "SchemaNotMigrated",
    "adapter_statements",
    "driver_is_psycopg3",
    "fetch",
    "forget_shared_sessions",
    "raise_if_unmigrated",
    "reports_unmigrated",
    "statement_cursor",
    "unmigrated",
    "unprepared_after_loss",
]

T = TypeVar("T")

logger = logging.getLogger("eventhex_django_adapter.db")

_UNDEFINED = ("42883", "42P01", "42703")  # PostgreSQL: no such function, table, column
_SQLITE_UNDEFINED = ("no such table:", "no such column:", "no such function:")
_LOST_STATEMENT = {
    "26000",  # invalid_sql_statement_name: "prepared statement ... does not exist"
    "42P05",  # duplicate_prepared_statement: "prepared statement ... already exists"
}
_PROTOCOL_VIOLATION = "08P01"  # "bind message supplies 5 parameters, but prepared statement..."

_shared_sessions: set[str] = set()
"""Aliases found behind a pooler that loses prepared statements: no longer prepared here."""


class PreparedStatementsUnavailable(ProgrammingError):
    """A pooler switched server sessions under a statement the adapter prepared.

    Raised inside a transaction (which the error aborted); the adapter prepares nothing more on
    that database alias in this process, and statements outside transactions are retried
    unprepared. The message names the settings that avoid it.
    """


def forget_shared_sessions() -> None:
    """Prepare statements again on every alias (for tests that switch poolers)."""
    _shared_sessions.clear()


def _prepares(alias: str, prepare: bool) -> bool:
    return prepare and alias not in _shared_sessions


@contextmanager
def adapter_statements(raw_connection: Any, prepare: bool, alias: str = "") -> Iterator[None]:
    """Run the adapter's statements on ``raw_connection`` (psycopg 3), prepared when ``prepare``
    and not on an alias found behind a pooler that loses prepared statements.

    Raises:
        PreparedStatementsUnavailable: The server no longer knows a prepared statement, or
            already knows its name: a pooler switched sessions (the alias is then marked).
    """
    prepare = _prepares(alias, prepare)
    saved = raw_connection.prepare_threshold
    if prepare:
        _name_statements_by_text(raw_connection)
        raw_connection.prepare_threshold = 0
    elif saved is not None:  # the project's OPTIONS prepare its queries, not these
        raw_connection.prepare_threshold = None
    try:
        yield
    except Exception as error:
        if prepare and _lost_statement(error):
            _shared_sessions.add(alias)
            logger.warning(
                "eventhex stops preparing statements on database %r for this process: %s. %s",
                alias,
                error,
                _FIX,
            )
            raise PreparedStatementsUnavailable(
                f"The database lost or already had a statement eventhex prepared ({error}): "
                f"{_FIX} eventhex prepares nothing more on database {alias!r} in this process; "
                "retry the transaction."
            ) from error
        raise
    finally:
        if raw_connection.prepare_threshold != saved:
            raw_connection.prepare_threshold = saved


class SchemaNotMigrated(DatabaseError):
    """The database lacks eventhex's tables or SQL functions: ``migrate`` has not run on it,
    or not since eventhex was upgraded.

    A ``DatabaseError``, so code that handles database failures still handles it; the relay
    and the projection runner stop on it rather than retry.

    Attributes:
        database: The ``settings.DATABASES`` alias.
        detail: The database's own message (its first line).
    """

    def __init__(self, database: str, detail: str) -> None:
        self.database = database
        self.detail = detail
        command = "python manage.py migrate"
        if database != "default":
            command += f" --database {database}"
        super().__init__(
            f"the eventhex tables or functions are missing in database {database!r} "
            f"({detail}): run `{command}`"
        )


def unmigrated(error: DatabaseError, alias: str) -> SchemaNotMigrated | None:
    """``error`` as a :class:`SchemaNotMigrated` when it says that an eventhex table, column or
    function does not exist on ``alias``, else None.

    Only errors naming an ``eventhex`` object count: a project's own missing table stays the
    project's error.
    """
    if isinstance(error, SchemaNotMigrated):
        return error
    text = str(error)
    if "eventhex" not in text:
        return None
    state = _sqlstate(error)
    if state in _UNDEFINED or (state is None and text.startswith(_SQLITE_UNDEFINED)):
        missing = SchemaNotMigrated(alias, text.partition("\n")[0].strip())
        missing.__cause__ = error
        return missing
    return None


def raise_if_unmigrated(error: DatabaseError, alias: str) -> None:
    """Raise :class:`SchemaNotMigrated` from ``error`` when :func:`unmigrated` says so; return
    otherwise (the caller re-raises ``error``)."""
    missing = unmigrated(error, alias)
    if missing is not None and missing is not error:
        raise missing from error


class _OnDatabase(Protocol):
    @property
    def database(self) -> str: ...


_Self = TypeVar("_Self", bound=_OnDatabase)
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def reports_unmigrated(
    method: Callable[Concatenate[_Self, _Params], _Result],
) -> Callable[Concatenate[_Self, _Params], _Result]:
    """Decorate a method of an object with a ``database`` alias so that a missing eventhex
    table or function raises :class:`SchemaNotMigrated` (see :func:`raise_if_unmigrated`)."""

    @wraps(method)
    def reporting(self: _Self, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        try:
            return method(self, *args, **kwargs)
        except DatabaseError as error:
            raise_if_unmigrated(error, self.database)
            raise

    return reporting


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, error.__cause__):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


_FIX = (
    "a connection pooler that does not keep prepared statements (PgBouncer in transaction "
    "mode before 1.21) sits between Django and PostgreSQL: set "
    "DjangoConfig(prepared_statements=False), or enable prepared statements in the pooler "
    "(PgBouncer 1.21+: max_prepared_statements)."
)


def unprepared_after_loss(alias: str, run: Callable[[bool], T], prepare: bool) -> T:
    """``run(prepare)``; when that loses a prepared statement outside a transaction, run it
    again unprepared (the error came before anything executed).

    Raises:
        PreparedStatementsUnavailable: Lost inside a transaction, which is aborted.
    """
    try:
        return run(prepare)
    except PreparedStatementsUnavailable:
        connection = connections[alias]
        if connection.in_atomic_block or not connection.get_autocommit():
            raise
        return run(False)


def _lost_statement(error: BaseException) -> bool:
    for candidate in (error, error.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if state in _LOST_STATEMENT:
            return True
        if state == _PROTOCOL_VIOLATION and "prepared statement" in str(candidate):
            return True
    return False


def _name_statements_by_text(raw_connection: Any) -> None:
    """Make psycopg name the statements it prepares on ``raw_connection`` after their text."""
    manager = raw_connection._prepared
    if type(manager) is not _text_named_manager():
        # the class only: psycopg's state (statements already prepared) stays as it is
        manager.__class__ = _text_named_manager()


@cache
def _text_named_manager() -> type[Any]:
    """psycopg's ``PrepareManager``, naming each statement after its SQL and parameter types.

    psycopg names them ``_pg3_0``, ``_pg3_1``... in the order a connection prepares them, so on
    a server session a pooler shares, ``_pg3_0`` may be another client's statement; run with
    this client's parameters, it would do that client's work. A name that carries a digest of
    the statement always means the same statement; psycopg's counter stays in it, so that a
    statement psycopg forgot after a failed execution (it stays on the server) is prepared
    again under a new name.
    """
    from psycopg._preparing import Prepare, PrepareManager

    class TextNamedStatements(PrepareManager):
        def get(self, query: Any, prepare: bool | None = None) -> tuple[Prepare, bytes]:
            found, name = super().get(query, prepare)
            if found is Prepare.SHOULD:
                text = query.query + b"\0" + ",".join(map(str, query.types)).encode()
                digest = hashlib.blake2b(text, digest_size=16).hexdigest()
                name = b"eventhex_" + digest.encode() + b"_" + name.removeprefix(b"_pg3_")
            return found, name

    return TextNamedStatements


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
    (see :func:`adapter_statements`; run again unprepared if a pooler lost it outside a
    transaction, see :func:`unprepared_after_loss`). ``jsonb`` columns come back decoded (objects as
    ``FreshJson``), or as their JSON text when ``json_text`` (with psycopg2 they are always
    text: Django does not decode them).

    Binary rows are cheaper to decode, but Django's cursors bind parameters client-side, which
    rules binary results out; a psycopg cursor on the same connection (so in the same
    transaction) is used instead, behind Django's thread, broken-transaction and
    error-translation checks. With psycopg2, Django's own cursor reads text rows.
    """
    try:
        return _fetch(alias, sql, params, binary, prepare, json_text)
    except DatabaseError as error:
        raise_if_unmigrated(error, alias)
        raise


def _fetch(
    alias: str,
    sql: str,
    params: Sequence[object] | Mapping[str, object],
    binary: bool,
    prepare: bool,
    json_text: bool,
) -> list[tuple[Any, ...]]:
    connection = connections[alias]
    if not binary:
        with connection.cursor() as cursor:
            cursor.execute(sql, cast(Any, params if isinstance(params, Mapping) else list(params)))
            return list(cursor.fetchall())

    def run(prepared: bool) -> list[tuple[Any, ...]]:
        return _fetch_binary(alias, sql, params, prepared, json_text)

    return unprepared_after_loss(alias, run, prepare)


def _fetch_binary(
    alias: str,
    sql: str,
    params: Sequence[object] | Mapping[str, object],
    prepare: bool,
    json_text: bool,
) -> list[tuple[Any, ...]]:
    import psycopg

    connection = connections[alias]
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    raw = connection.connection
    with (
        connection.wrap_database_errors,
        adapter_statements(raw, prepare, alias),
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
    query logging still apply. With psycopg2 it is Django's cursor. Wrap what runs on it in
    :func:`unprepared_after_loss` to survive a pooler outside transactions.
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
    with adapter_statements(connection.connection, prepare, alias), wrapped as cursor:
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
