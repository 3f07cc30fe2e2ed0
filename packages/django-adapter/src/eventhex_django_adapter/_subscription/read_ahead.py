"""Reading a subscription's next page while the records of this one are built (ADR 0023).

A subscription that catches up spends about a third of each page waiting for PostgreSQL and
the rest building records. Sent before this page's records are built, the next page's read runs
on the server meanwhile, on the same connection, in psycopg's pipeline mode. The rules that keep
it invisible to the reader:

* Only a subscription asked for another page right after two full ones reads ahead: it is
  catching up, and an iterator used for a single page pays nothing. And only with pages of
  ``SMALLEST_PAGE`` rows or more: the pipeline's sync costs a round trip, which a small page's
  server time does not outweigh.
* Only outside a transaction, with psycopg 3 and a libpq that has pipeline mode.
* Only a full page read ahead is kept. Every event in it was readable when it was read, and no
  event can appear before them later (see :mod:`.reads`), so a read made when the page is
  delivered would return the same rows. A shorter page is dropped: it ends at the live tail,
  which the next read must see afresh.
* A query the building code runs on the connection (a key lookup to decrypt a field, a user's
  upcaster or validator) first takes the read ahead's rows off the wire, and a failed read
  ahead is dropped there, its error left to the next read, which runs plainly.
* When building fails while the read is on its way, the read is finished and dropped, and the
  page built again plainly: the reader sees the plain path's error, or none if the pipeline
  caused it (a transaction opened by an upcaster, say).

The rows kept are stored data: a field is decrypted when its page is built, with the key as it
is then, so a key shredded meanwhile leaves the field shredded.
"""

from collections.abc import Callable, Hashable, Sequence
from contextlib import ExitStack, suppress
from typing import Any, TypeVar

from django.db import connections

from eventhex_django_adapter._db import _jsonb_loader, adapter_statements, driver_is_psycopg3

__all__ = ["ReadAhead", "build_while_reading", "can_read_ahead"]

T = TypeVar("T")
Rows = list[tuple[Any, ...]]

_FULL_PAGES_BEFORE_READING_AHEAD = 2

SMALLEST_PAGE = 200
"""Pages of fewer rows are never read ahead. Measured (finding 24), reading ahead took pages of
20 rows to 1.21x the wall time, of 100 to 1.05x, of 200 to 0.84x and of 500 to 0.77x-0.86x."""


class ReadAhead:
    """One subscription's read-ahead state: how many full pages in a row it has been given,
    and the rows of the page it read ahead, with the read they answer."""

    def __init__(self) -> None:
        self.full_pages = 0
        self._read: Hashable | None = None
        self._rows: Rows | None = None

    def take(self, read: Hashable) -> Rows | None:
        """The rows read ahead for ``read``, once; None when another read was made ahead."""
        rows, kept = self._rows, self._read
        self._read = self._rows = None
        return rows if kept == read else None

    def keep(self, read: Hashable, rows: Rows) -> None:
        """Keep ``rows`` as the answer to ``read``."""
        self._read, self._rows = read, rows

    def page_read(self, rows: int, limit: int) -> bool:
        """Count a page of ``rows`` read with ``limit``; True when the next one should be read
        ahead."""
        self.full_pages = self.full_pages + 1 if rows == limit else 0
        return self.full_pages >= _FULL_PAGES_BEFORE_READING_AHEAD and limit >= SMALLEST_PAGE


def can_read_ahead(alias: str) -> bool:
    """Whether ``alias``'s connection can run a read in pipeline mode now: psycopg 3 with
    pipeline support, autocommit, outside any transaction and any pipeline."""
    if not driver_is_psycopg3():
        return False
    import psycopg

    connection = connections[alias]
    raw = connection.connection
    return (
        raw is not None
        and psycopg.Pipeline.is_supported()
        and not connection.in_atomic_block
        and connection.get_autocommit()
        and raw.pgconn.pipeline_status == psycopg.pq.PipelineStatus.OFF
        and raw.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    )


def build_while_reading(
    alias: str,
    sql: str,
    params: Sequence[object],
    prepare: bool,
    json_text: bool,
    build: Callable[[], T],
) -> tuple[T, Rows | None]:
    """Return ``build()``, run while ``sql`` is read on ``alias``'s connection, and the rows
    read (in binary, ``jsonb`` as by :func:`.._db.fetch`), or None when the read failed.

    Call only when :func:`can_read_ahead` holds.
    """
    import psycopg

    raw = connections[alias].connection
    with ExitStack() as pipeline_open:
        try:
            pipeline = pipeline_open.enter_context(raw.pipeline())
            cursor = pipeline_open.enter_context(psycopg.Cursor(raw))
            cursor.adapters.register_loader("jsonb", _jsonb_loader(json_text))
            with adapter_statements(raw, prepare, alias):
                cursor.execute(sql, params, binary=True)  # sent: the server starts on it now
        except Exception:  # not sent; the next read runs plainly and reports what is wrong
            _close_quietly(pipeline_open)
            return build(), None
        reading = _Reading(cursor, pipeline)
        try:
            with connections[alias].execute_wrapper(reading.before_query):
                built = build()
        except Exception:
            reading.finish()
            _close_quietly(pipeline_open)
            return build(), None
        rows = reading.finish()
        if not _close_quietly(pipeline_open):
            rows = None
    return built, rows


class _Reading:
    """The read ahead on its way: finished once, before any other query on the connection."""

    def __init__(self, cursor: Any, pipeline: Any) -> None:
        self._cursor = cursor
        self._pipeline = pipeline
        self._done = False
        self._rows: Rows | None = None

    def finish(self) -> Rows | None:
        """Take the rows off the wire (once); None when the read failed."""
        if not self._done:
            self._done = True
            import psycopg

            try:
                self._rows = self._cursor.fetchall()
            except psycopg.Error:
                # An error aborts the pipeline's later statements until a sync. If the sync
                # fails too, the connection is gone, and the next query reports it.
                with suppress(psycopg.Error):
                    self._pipeline.sync()
        return self._rows

    def before_query(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        """A Django execute wrapper: finish the read ahead, then run the query."""
        self.finish()
        return execute(sql, params, many, context)


def _close_quietly(stack: ExitStack) -> bool:
    """Leave the pipeline; False when leaving it failed (the rows read are then not trusted)."""
    import psycopg

    try:
        stack.close()
    except psycopg.Error:
        return False
    return True
