"""Admin pages: projections with their lag, state and parked count; parked events with retry
and skip actions. Everything else is read-only: checkpoints move only through the runner, a
rebuild, or a retry or skip here."""

import threading
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from eventhex_django_adapter.projections._parked import retry_parked, skip_parked
from eventhex_django_adapter.projections._registry import load_projections, projections_backend
from eventhex_django_adapter.projections._shards import units_of
from eventhex_django_adapter.projections._status import ProjectionStatus, projection_statuses
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

__all__ = ["ParkedEventAdmin", "ProjectionStateAdmin"]

_page = threading.local()


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _forget() -> None:
    _page.statuses = {}


def _status(row: ProjectionState) -> ProjectionStatus | None:
    found: dict[str, ProjectionStatus] = getattr(_page, "statuses", {})
    return found.get(row.name)


@admin.register(ProjectionState)
class ProjectionStateAdmin(_ReadOnly):
    """Every projection: state, checkpoint, lag in events and seconds, owner, parked events."""

    list_display = (
        "name",
        "version",
        "shard_shown",
        "state",
        "position",
        "lag",
        "lag_age",
        "owner_shown",
        "parked",
    )
    search_fields = ("name", "projection", "owner")
    list_filter = ("state", "projection")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Compute every registered projection's status once for the page."""
        try:
            _page.statuses = {
                s.name: s for s in projection_statuses(projections_backend(), load_projections())
            }
        except ImproperlyConfigured as error:
            _page.statuses = {}
            self.message_user(request, str(error), messages.ERROR)
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "add_post_render_callback"):  # rendered later, in this thread
            response.add_post_render_callback(lambda rendered: _forget())
        else:
            _forget()
        return response

    @admin.display(description="shard")
    def shard_shown(self, row: ProjectionState) -> str:
        """Which shard of how many (``-`` when the projection is not sharded)."""
        return f"{row.shard + 1} of {row.shards}" if row.shards > 1 else "-"

    @admin.display(description="lag (events)")
    def lag(self, row: ProjectionState) -> str:
        """Selected events not applied yet."""
        status = _status(row)
        return f"{status.lag_events:,}" if status else "not registered"

    @admin.display(description="lag (age)")
    def lag_age(self, row: ProjectionState) -> str:
        """Age of the oldest event not applied yet."""
        status = _status(row)
        return f"{status.lag_seconds:,.1f} s" if status else "-"

    @admin.display(description="owner")
    def owner_shown(self, row: ProjectionState) -> str:
        """The runner working on it, marked when it is gone."""
        status = _status(row)
        if not row.owner:
            return "-"
        return row.owner if status is None or status.owner_alive else f"{row.owner} (gone)"

    @admin.display(description="parked")
    def parked(self, row: ProjectionState) -> str:
        """Parked events waiting, linked to their list."""
        status = _status(row)
        count = status.parked if status else 0
        if not count:
            return "0"
        return format_html(
            '<a href="../parkedevent/?projection__id__exact={}&status__exact=parked">{}</a>',
            row.pk,
            count,
        )


@admin.register(ParkedEvent)
class ParkedEventAdmin(_ReadOnly):
    """Events a handler kept failing on; select some and retry or skip them."""

    list_display = (
        "id",
        "projection",
        "event_name",
        "stream",
        "version",
        "attempts",
        "status",
        "parked_at",
        "error_line",
    )
    list_filter = ("status", "projection")
    list_select_related = ("projection",)
    search_fields = ("event_name", "=event_uuid", "stream_name")
    actions = ("retry", "skip")
    readonly_fields = [f.name for f in ParkedEvent._meta.fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing is allowed; actions need change permission on parked events.
        return bool(request.user.has_perm("eventhex.change_parkedevent"))

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Retrying needs change permission on parked events."""
        return self.has_change_permission(request)

    has_skip_permission = has_retry_permission

    @admin.display(description="stream")
    def stream(self, parked: ParkedEvent) -> str:
        """The stream's name, or its uuid."""
        return parked.stream_name or str(parked.stream_uuid)

    @admin.display(description="error")
    def error_line(self, parked: ParkedEvent) -> str:
        """The last line of the traceback (the full one is on the event's page)."""
        lines = parked.error.strip().splitlines()
        return lines[-1] if lines else ""

    @admin.action(description="Retry the selected parked events", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: "QuerySet[ParkedEvent]") -> None:
        """Apply each selected event again; those that fail again stay parked."""
        backend = projections_backend()
        by_name = {u.row: p for p in load_projections() for u in units_of(p)}
        done = failed = 0
        for parked in queryset.filter(status=ParkedEvent.Status.PARKED):
            projection = by_name.get(parked.projection.name)
            if projection is None:
                failed += 1
                continue
            outcome = retry_parked(backend, projection, parked.pk)
            done += outcome.ok
            failed += not outcome.ok
        self._report(request, "retried", done, failed)

    @admin.action(description="Skip the selected parked events", permissions=["skip"])
    def skip(self, request: HttpRequest, queryset: "QuerySet[ParkedEvent]") -> None:
        """Leave each selected event out for good."""
        backend = projections_backend()
        done = failed = 0
        for parked in queryset.filter(status=ParkedEvent.Status.PARKED):
            outcome = skip_parked(backend, parked.pk)
            done += outcome.ok
            failed += not outcome.ok
        self._report(request, "skipped", done, failed)

    def _report(self, request: HttpRequest, verb: str, done: int, failed: int) -> None:
        if done:
            self.message_user(request, f"{done} parked event(s) {verb}.", messages.SUCCESS)
        if failed:
            self.message_user(
                request,
                f"{failed} parked event(s) could not be {verb} and stay parked; see their error.",
                messages.ERROR,
            )
