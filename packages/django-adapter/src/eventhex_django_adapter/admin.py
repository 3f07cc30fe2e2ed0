"""A read-only Django admin for the event store: streams, events, snapshots and the outbox.

Events are facts: the admin lists, searches and shows them but never adds, changes or deletes.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from eventhex_django_adapter.models import Event, OutboxEntry, Snapshot, Stream

__all__ = ["EventAdmin", "OutboxEntryAdmin", "ReadOnlyAdmin", "SnapshotAdmin", "StreamAdmin"]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A model admin that shows rows and never writes them."""

    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Stream)
class StreamAdmin(ReadOnlyAdmin):
    """Streams, searchable by name, category and uuid."""

    list_display = ("id", "name", "category", "tenant_id", "uuid", "version")
    search_fields = ("name", "category", "=uuid")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Events, newest first, searchable by event name, stream name and category."""

    list_display = ("id", "name", "stream", "version", "category", "tenant_id", "created_at")
    list_select_related = ("stream",)
    search_fields = ("name", "category", "stream__name", "=uuid")
    ordering = ("-id",)


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    """Snapshots, searchable by snapshot name, stream name and category."""

    list_display = ("uuid", "name", "stream", "version", "created_at")
    list_select_related = ("stream",)
    search_fields = ("name", "stream__name", "stream__category")


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    """Outbox entries waiting or dead, searchable by event name, stream name and category."""

    list_display = (
        "id",
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
    search_fields = ("event_name", "stream_name", "stream_category", "=event_uuid")
    ordering = ("id",)
