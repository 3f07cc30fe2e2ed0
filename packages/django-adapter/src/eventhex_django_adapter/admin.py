"""A read-only Django admin for the event store: streams, events, snapshots and the outbox.

Events are facts: the admin lists, searches and shows them but never adds, changes or deletes.
Every list stays fast on tens of millions of events (see :mod:`._admin_lists`): counts are
bounded, only the first and the last pages are offered, searches are exact or by prefix on
indexed columns, and filters read their values from indexes. Payloads and contexts are never
decoded by Django: lists leave them out, and a row's page shows them from their stored text
(see :mod:`._admin_json`), so one row nested too deeply to decode fails no page.
"""

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from eventhex_django_adapter._admin_json import StoredJsonColumns
from eventhex_django_adapter._admin_lists import (
    BoundedPaginator,
    IndexedValuesFilter,
    as_uuid,
    streams_matching,
)
from eventhex_django_adapter._codec import encode_position, format_position
from eventhex_django_adapter.models import Event, OutboxEntry, Snapshot, Stream

__all__ = ["EventAdmin", "OutboxEntryAdmin", "ReadOnlyAdmin", "SnapshotAdmin", "StreamAdmin"]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A model admin that shows rows and never writes them, with bounded counts and pages."""

    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    sortable_by = ("id",)

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: "QuerySet[Any]",
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> BoundedPaginator:
        """A :class:`BoundedPaginator`: no full count, no deep ``OFFSET``."""
        return BoundedPaginator(queryset, per_page, request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CategoryFilter(IndexedValuesFilter):
    """By stream category (the values come from the events' category index)."""

    title = "category"
    parameter_name = "category__exact"
    table_model = Event


class EventNameFilter(IndexedValuesFilter):
    """By event name (the values come from the events' name index)."""

    title = "event name"
    parameter_name = "name__exact"


def _exists(queryset: "QuerySet[Any]", **lookup: Any) -> bool:
    return bool(queryset.filter(**lookup).exists())


@admin.register(Stream)
class StreamAdmin(ReadOnlyAdmin):
    """Streams, newest first, found by uuid, name prefix or category."""

    list_display = ("id", "name", "category", "tenant_id", "uuid", "version")
    list_filter = (CategoryFilter,)
    search_fields = ("name",)  # shows the box; the search itself is get_search_results
    search_help_text = "A stream's uuid, the start of its name, or a category (exact)."
    ordering = ("-id",)

    def get_search_results(
        self, request: HttpRequest, queryset: "QuerySet[Stream]", search_term: str
    ) -> tuple["QuerySet[Stream]", bool]:
        """Streams by exact uuid, by name prefix, or in the category named exactly."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = as_uuid(term)
        if found is not None:
            return queryset.filter(uuid=found), False
        match = Q(id__in=streams_matching(request, queryset.db, term, None))
        if _exists(Event.objects.using(queryset.db), category=term):
            match |= Q(category=term)
        return queryset.filter(match), False


@admin.register(Event)
class EventAdmin(StoredJsonColumns, ReadOnlyAdmin):
    """Events, newest first, found by uuid, event name, category or stream."""

    list_display = ("id", "position", "name", "stream", "version", "category", "created_at")
    list_select_related = ("stream",)
    list_filter = (CategoryFilter, EventNameFilter)
    search_fields = ("name",)  # shows the box; the search itself is get_search_results
    search_help_text = (
        "An event's uuid, an event name or a category (exact), a stream's uuid or the start of "
        "its name."
    )
    ordering = ("-id",)
    readonly_fields = ("position",)

    @admin.display(description="position")
    def position(self, event: Event) -> str:
        """The event's position as people read it (``tx_id:id`` on PostgreSQL)."""
        return format_position(encode_position(event.tx_id, event.id))

    def get_search_results(
        self, request: HttpRequest, queryset: "QuerySet[Event]", search_term: str
    ) -> tuple["QuerySet[Event]", bool]:
        """Events with that uuid or of the stream with that uuid; else with that name or
        category, or of the streams whose name starts with the term. Only the kinds of match
        that exist take part, so that each query runs on the index of what it matches."""
        term = search_term.strip()
        if not term:
            return queryset, False
        alias = queryset.db
        found = as_uuid(term)
        match = Q(stream_id__in=streams_matching(request, alias, term, found))
        events = Event.objects.using(alias)
        if found is not None:
            match |= Q(uuid=found)
        else:
            if _exists(events, name=term):
                match |= Q(name=term)
            if _exists(events, category=term):
                match |= Q(category=term)
        return queryset.filter(match), False


@admin.register(Snapshot)
class SnapshotAdmin(StoredJsonColumns, ReadOnlyAdmin):
    """Snapshots, found by their uuid or their stream's uuid or name prefix."""

    list_display = ("uuid", "name", "stream", "version", "created_at")
    list_select_related = ("stream",)
    search_fields = ("name",)  # shows the box; the search itself is get_search_results
    search_help_text = "A snapshot's uuid, a stream's uuid or the start of its name."
    sortable_by = ()  # type: ignore[assignment]

    def get_search_results(
        self, request: HttpRequest, queryset: "QuerySet[Snapshot]", search_term: str
    ) -> tuple["QuerySet[Snapshot]", bool]:
        """Snapshots with that uuid, or of the matching streams."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = as_uuid(term)
        match = Q(stream_id__in=streams_matching(request, queryset.db, term, found))
        if found is not None:
            match |= Q(uuid=found)
        return queryset.filter(match), False


@admin.register(OutboxEntry)
class OutboxEntryAdmin(StoredJsonColumns, ReadOnlyAdmin):
    """Outbox entries waiting or dead, oldest first, found by exact value.

    The outbox is a queue, short in a healthy system: a search reads it whole, and adds no
    index to the appends' path.
    """

    list_display = (
        "id",
        "shown_position",
        "event_name",
        "stream_name",
        "stream_category",
        "attempts",
        "max_attempts",
        "dead",
        "next_attempt_at",
        "enqueued_at",
    )
    list_filter = ("dead",)
    search_fields = ("event_name",)  # shows the box; the search itself is get_search_results
    search_help_text = "An event's or a stream's uuid, an event name, stream name or category."
    ordering = ("id",)
    exclude = ("position",)
    readonly_fields = ("shown_position",)

    @admin.display(description="position")
    def shown_position(self, entry: OutboxEntry) -> str:
        """The event's position as people read it."""
        return format_position(int(entry.position))

    def get_search_results(
        self, request: HttpRequest, queryset: "QuerySet[OutboxEntry]", search_term: str
    ) -> tuple["QuerySet[OutboxEntry]", bool]:
        """Entries whose event or stream uuid, event name, stream name or category is the
        term."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = as_uuid(term)
        if found is not None:
            return queryset.filter(Q(event_uuid=found) | Q(stream_uuid=found)), False
        match = Q(event_name=term) | Q(stream_name=term) | Q(stream_category=term)
        return queryset.filter(match), False
