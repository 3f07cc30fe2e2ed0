"""Statements the adapter owns: psycopg prepares them, whatever Django's setting says.

Django turns psycopg's prepared statements off unless ``"prepare_threshold"`` is set in the
database ``OPTIONS`` (for the sake of connection poolers that cannot keep them). The adapter's
statements are few, long and run constantly, so planning them on every call is a large share
of an append or a read. :func:`adapter_statements` lets psycopg prepare them on their first use
on a connection, and only them: the project's own queries keep Django's behaviour. A project
whose ``OPTIONS`` name a threshold keeps it for every query. Behind a pooler that cannot keep
prepared statements (PgBouncer in transaction mode before 1.21, or with
``max_prepared_statements = 0``), set ``DjangoConfig(prepared_statements=False)``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.utils import ProgrammingError

__all__ = ["PreparedStatementsUnavailable", "adapter_statements"]

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
