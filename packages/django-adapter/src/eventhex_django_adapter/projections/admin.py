"""Admin pages: projections with their lag, state and parked count; parked events with retry
and skip actions. Everything else is read-only: checkpoints move only through the runner, a
rebuild, or a retry or skip here.

The projections page costs a few index probes per projection, however large the store: the lag
is counted up to ``EXACT_COUNT`` events from the checkpoint on (shown as "10,000+" beyond), and
its age is that of the first event after the checkpoint.
"""

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html

from eventhex_django_adapter._admin_lists import EXACT_COUNT
from eventhex_django_adapter._codec import decode, format_position
from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.models import Event
from eventhex_django_adapter.projections._parked import retry_parked, skip_parked
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._registry import (
    event_names,
    load_projections,
    projections_backend,
)
from eventhex_django_adapter.projections._shards import Unit, units_of
from eventhex_django_adapter.projections._status import (
    _locked_rows,
    checkpoint_rows,
    owner_alive,
    pending_events,
    shown_state,
)
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

__all__ = ["ParkedEventAdmin", "ProjectionStateAdmin"]

_page = threading.local()


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    list_per_page = 50
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@dataclass(frozen=True)
class _Shown:
    """What the projections page shows of one registered projection."""

    state: str
    lag: str
    lag_age: str
    owner_alive: bool
    parked: int


def _forget() -> None:
    _page.statuses = {}


def _status(row: ProjectionState) -> _Shown | None:
    found: dict[str, _Shown] = getattr(_page, "statuses", {})
    return found.get(row.name)


def _age(created_at: datetime | None) -> str:
    if created_at is None:
        return "0.0 s"
    seconds = (timezone.now() - created_at).total_seconds()  # both aware, or both naive
    return f"{max(0.0, seconds):,.1f} s"


def _shown(backend: DjangoBackend, unit: Unit, row: ProjectionState | None, locked: Any) -> _Shown:
    """One checkpoint row's lag from its checkpoint, read from the index it selects events by."""
    alias = backend[DjangoConfig].database
    projection = unit.projection
    shard = unit.shard if projection.shards > 1 else None
    pending = pending_events(backend, projection, row.last_event_uuid if row else None, shard)
    if row is not None and connections[alias].vendor == "postgresql":
        # The checkpoint as a row comparison, which the (tx_id, id) indexes start a walk at.
        point = decode(int(row.position))
        table = connections[alias].ops.quote_name(Event._meta.db_table)
        after = RawSQL(
            f"({table}.tx_id, {table}.id) > (%s, %s)",
            (point.tx_id, point.event_id),
            output_field=BooleanField(),
        )
        pending = pending.filter(after)
    # One walk per selected event name, each on the name index from the checkpoint on: a walk
    # of all events filtered by name would pass every other event after the checkpoint.
    names = event_names(backend, projection) if projection.category is None else None
    parts = [pending.filter(name=name) for name in names] if names else [pending]
    # Counted in commit order, so that the count walks the index from the checkpoint too.
    behind = sum(part[: EXACT_COUNT + 1].count() for part in parts)
    firsts = [part.values_list("tx_id", "id", "created_at").first() for part in parts]
    found = [first for first in firsts if first is not None]
    oldest = min(found, key=lambda f: (f[0] or 0, f[1]))[2] if found else None
    alive = owner_alive(row, locked, timezone.now())
    return _Shown(
        state=shown_state(row, alive),
        lag=f"{EXACT_COUNT:,}+" if behind > EXACT_COUNT else f"{behind:,}",
        lag_age=_age(oldest),
        owner_alive=alive,
        parked=getattr(row, "waiting", 0) if row else 0,
    )


def _statuses(backend: DjangoBackend, projections: list[Projection]) -> dict[str, _Shown]:
    alias = backend[DjangoConfig].database
    units = [unit for projection in projections for unit in units_of(projection)]
    rows = checkpoint_rows(alias, [u.row for u in units])
    locked = _locked_rows(alias)
    return {u.row: _shown(backend, u, rows.get(u.row), locked) for u in units}


@admin.register(ProjectionState)
class ProjectionStateAdmin(_ReadOnly):
    """Every projection: state, checkpoint, lag in events and seconds, owner, parked events."""

    list_display = (
        "name",
        "version",
        "shard_shown",
        "state_shown",
        "shown_position",
        "lag",
        "lag_age",
        "owner_shown",
        "parked",
    )
    search_fields = ("name", "projection", "owner")
    list_filter = ("state", "projection")
    exclude = ("position",)
    readonly_fields = ("shown_position",)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Compute every registered projection's status once for the page."""
        try:
            _page.statuses = _statuses(projections_backend(), load_projections())
        except ImproperlyConfigured as error:
            _page.statuses = {}
            self.message_user(request, str(error), messages.ERROR)
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "add_post_render_callback"):  # rendered later, in this thread
            response.add_post_render_callback(lambda rendered: _forget())
        else:
            _forget()
        return response

    @admin.display(description="position")
    def shown_position(self, row: ProjectionState) -> str:
        """The checkpoint as people read it."""
        return format_position(int(row.position))

    @admin.display(description="state", ordering="state")
    def state_shown(self, row: ProjectionState) -> str:
        """As ``eventhex_projections status`` shows it: failing, stopped, no runner, ..."""
        status = _status(row)
        return status.state if status else str(row.state)

    @admin.display(description="shard")
    def shard_shown(self, row: ProjectionState) -> str:
        """Which shard of how many (``-`` when the projection is not sharded)."""
        return f"{row.shard + 1} of {row.shards}" if row.shards > 1 else "-"

    @admin.display(description="lag (events)")
    def lag(self, row: ProjectionState) -> str:
        """Selected events not applied yet (counted up to 10,000)."""
        status = _status(row)
        return status.lag if status else "not registered"

    @admin.display(description="lag (age)")
    def lag_age(self, row: ProjectionState) -> str:
        """Age of the oldest event not applied yet."""
        status = _status(row)
        return status.lag_age if status else "-"

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
        "shown_position",
        "attempts",
        "status",
        "parked_at",
        "error_line",
    )
    list_filter = ("status", "projection")
    list_select_related = ("projection",)
    search_fields = ("event_name", "=event_uuid", "stream_name")
    actions = ("retry", "skip")
    fields = (
        "projection",
        "status",
        "event_name",
        "event_uuid",
        "stream_name",
        "stream_uuid",
        "stream_category",
        "tenant_id",
        "version",
        "shown_position",
        "shown_previous_position",
        "attempts",
        "parked_at",
        "resolved_at",
        "traceback",
    )
    readonly_fields = fields

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Retrying (and skipping) needs change permission on parked events; the event's own
        page stays read-only: a parked event changes only by a retry or a skip."""
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return bool(request.user.has_perm(f"{opts.app_label}.{codename}"))

    has_skip_permission = has_retry_permission

    @admin.display(description="stream")
    def stream(self, parked: ParkedEvent) -> str:
        """The stream's name, or its uuid."""
        return parked.stream_name or str(parked.stream_uuid)

    @admin.display(description="position")
    def shown_position(self, parked: ParkedEvent) -> str:
        """The event's position as people read it."""
        return format_position(int(parked.position))

    @admin.display(description="previous position")
    def shown_previous_position(self, parked: ParkedEvent) -> str:
        """The position of the event before it in the projection's selection."""
        return format_position(int(parked.previous_position))

    @admin.display(description="traceback")
    def traceback(self, parked: ParkedEvent) -> str:
        """The handler's last traceback, as printed (escaped)."""
        return format_html('<pre class="eventhex-traceback">{}</pre>', parked.error)

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
