"""Admin change lists that stay fast on tens of millions of rows.

Three things in Django's admin grow with the table: the ``COUNT(*)`` behind every list, the
``OFFSET`` of deep pages, and searches with ``icontains``, which no index serves. Here:

- :class:`BoundedPaginator` counts at most :data:`EXACT_COUNT` rows; past that, PostgreSQL's
  planner estimates the count (no scan) and the list says "about". It offers the first and the
  last :data:`EDGE_ROWS` rows of a list (the newest and the oldest events), each page read by
  primary key from the nearer end; pages in between are not offered: search or filter instead.
- :class:`IndexedValuesFilter` lists a column's distinct values by walking an index from one
  value to the next (a loose index scan), never the table.
- :func:`streams_matching` finds streams by exact uuid or by name prefix, on indexes
  (the initial migration).
"""

import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import InvalidPage, Page, Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

__all__ = [
    "EDGE_ROWS",
    "EXACT_COUNT",
    "BoundedPaginator",
    "IndexedValuesFilter",
    "as_uuid",
    "streams_matching",
]

EXACT_COUNT = 10_000
"""Lists up to this many rows are counted exactly; longer ones are estimated."""

EDGE_ROWS = 5_000
"""Rows reachable from either end of a list: 100 pages of 50 at the front and at the back."""

STREAM_MATCHES = 1_000
"""At most this many streams take part in a search by stream name prefix."""

VALUES_SHOWN = 100
"""At most this many distinct values are listed in a filter."""


def _estimate(queryset: "QuerySet[Any]") -> int | None:
    """PostgreSQL's planned row count of ``queryset`` (no rows read); None elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class BoundedPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator whose count and pages cost the same on a thousand rows and on ten million.

    Args:
        object_list: The ordered queryset of the list.
        per_page: Rows per page.
        request: The request, to explain a page that is not offered.
    """

    def __init__(
        self, object_list: "QuerySet[Any]", per_page: int, request: HttpRequest | None = None
    ) -> None:
        super().__init__(object_list, per_page)
        self.queryset = object_list
        self.request = request
        self.estimated = False

    @cached_property
    def count(self) -> int:
        """Exact up to :data:`EXACT_COUNT` rows; past it, the planner's estimate (PostgreSQL)
        or an exact count (other databases)."""
        queryset = self.queryset.order_by()
        found: int = queryset[: EXACT_COUNT + 1].count()
        if found > EXACT_COUNT:
            estimate = _estimate(queryset)
            if estimate is None:
                found = queryset.count()
            else:
                self.estimated = True
                found = max(estimate, EXACT_COUNT + 1)
        return found

    @property
    def edge_pages(self) -> int:
        """Pages offered at each end of the list."""
        return max(1, EDGE_ROWS // self.per_page)

    @property
    def gapped(self) -> bool:
        """Whether some pages in the middle are not offered."""
        return self.count > 2 * EDGE_ROWS

    def offered(self, number: int) -> bool:
        """Whether page ``number`` lies within :data:`EDGE_ROWS` of either end."""
        return (number - 1) * self.per_page < EDGE_ROWS or (
            self.count - (number - 1) * self.per_page <= EDGE_ROWS
        )

    def page(self, number: Any) -> Page:  # type: ignore[type-arg]
        """Page ``number``, read by primary key from the nearer end of the list.

        Raises:
            InvalidPage: For a page that does not exist or is not offered (the admin then
                shows the first page, with a message when the page is not offered).
        """
        number = self.validate_number(number)
        if not self.offered(number):
            if self.request is not None:
                messages.warning(
                    self.request,
                    f"Page {number:,} is not shown: only the first and the last "
                    f"{self.edge_pages} pages are. Search or filter to find rows in "
                    "between.",
                )
            raise InvalidPage(f"page {number} is not offered")
        return Page(self._rows(number), number, self)

    def _rows(self, number: int) -> list[Any]:
        queryset = self.queryset
        start = (number - 1) * self.per_page
        if start == 0:
            return list(queryset[: self.per_page])
        if start < EDGE_ROWS:
            keys = list(queryset.values_list("pk", flat=True)[start : start + self.per_page])
        else:  # from the far end, backwards
            end = self.count - start
            keys = list(
                queryset.reverse().values_list("pk", flat=True)[max(0, end - self.per_page) : end]
            )
        # The keys come from an index walk alone; the full rows (and their joins) for one page.
        return list(queryset.filter(pk__in=keys))

    def get_elided_page_range(
        self, number: Any = 1, *, on_each_side: int = 3, on_ends: int = 2
    ) -> Iterator[Any]:
        """Django's elided range without the pages that are not offered."""
        gap = False
        for item in super().get_elided_page_range(
            number, on_each_side=on_each_side, on_ends=on_ends
        ):
            if not isinstance(item, int) or not self.offered(item):  # an ellipsis
                gap = True
                continue
            if gap and item != 1:
                yield self.ELLIPSIS
            gap = False
            yield item


class IndexedValuesFilter(admin.SimpleListFilter):
    """A filter by one column's distinct values, read from an index on that column.

    Subclass it with ``title``, ``parameter_name`` (``<column>__exact``) and ``table_model``
    (the model whose table has an index starting with the column; by default the admin's).
    """

    table_model: type[Model] | None = None

    @property
    def column(self) -> str:
        """The filtered field's name."""
        return str(self.parameter_name).removesuffix("__exact")

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """The first :data:`VALUES_SHOWN` distinct values, in order."""
        model = self.table_model or model_admin.model
        alias = model_admin.get_queryset(request).db
        values = distinct_values(alias, model, self.column, VALUES_SHOWN)
        return [(value, value or "(none)") for value in values]

    def queryset(self, request: HttpRequest, queryset: "QuerySet[Any]") -> "QuerySet[Any]":
        """Rows whose column equals the chosen value."""
        value = self.value()
        return queryset if value is None else queryset.filter(**{self.column: value})


def distinct_values(alias: str, model: type[Model], field: str, limit: int) -> list[str]:
    """Up to ``limit`` distinct values of ``field``, each found with one index probe after the
    one before (PostgreSQL and SQLite answer each probe from an index starting with it)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = quote(str(model._meta.get_field(field).column))  # type: ignore[union-attr]
    first = f"SELECT {column} FROM {table} ORDER BY {column} LIMIT 1"
    after = f"SELECT {column} FROM {table} WHERE {column} > found.value ORDER BY {column} LIMIT 1"
    sql = (
        f"WITH RECURSIVE found(value, n) AS (SELECT ({first}), 1 UNION ALL "
        f"SELECT ({after}), n + 1 FROM found WHERE found.value IS NOT NULL AND n < %s) "
        "SELECT value FROM found WHERE value IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [row[0] for row in cursor.fetchall()]


def as_uuid(term: str) -> uuid.UUID | None:
    """``term`` as a UUID, or None when it is not one."""
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


def streams_matching(
    request: HttpRequest, alias: str, term: str, found: uuid.UUID | None
) -> Sequence[int]:
    """Ids of the streams with uuid ``found``, or else whose name starts with ``term``.

    A name prefix that more than :data:`STREAM_MATCHES` streams share takes the first of them
    , and says so.
    """
    from eventhex_django_adapter.models import Stream

    streams = Stream.objects.using(alias)
    if found is not None:
        return list(streams.filter(uuid=found).values_list("id", flat=True))
    if connections[alias].vendor == "postgresql":
        named = streams.filter(name__startswith=term)  # LIKE 'term%', on varchar_pattern_ops
    else:  # SQLite's LIKE ignores case and no index serves it; a range on the name index does
        named = streams.filter(name__gte=term, name__lt=term + "\U0010ffff")
    ids = list(named.order_by().values_list("id", flat=True)[: STREAM_MATCHES + 1])
    if len(ids) > STREAM_MATCHES:
        messages.info(
            request,
            f"More than {STREAM_MATCHES:,} stream names start with {term!r}: the results come "
            f"from {STREAM_MATCHES:,} of them. Type more of the name to narrow it.",
        )
    return ids[:STREAM_MATCHES]
