"""The projection row: claims, the fence every batch passes, checkpoints and parking.

Safety does not rest on the ownership mechanism (advisory lock or lease) but on this row. Whoever
takes a projection over (a runner, a rebuild) raises ``generation`` under the row's lock; every
batch transaction first locks the row and checks that ``generation`` and ``position`` are still
the ones it started from. So a runner that lost its lock without noticing, or a batch that an
operator's retry or skip overtook, rolls back instead of applying anything twice.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from event_sourcery.event import Recorded, RecordedRaw

from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._shards import Unit
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

__all__ = [
    "Claim",
    "Fenced",
    "Moved",
    "ShardsChanged",
    "advance",
    "check_shards",
    "claim",
    "clear_failure",
    "ensure_rows",
    "lock_for_batch",
    "mark_caught_up",
    "note_failure",
    "park",
    "pass_raw",
    "read_row",
    "release",
    "renew",
    "to_db_time",
]

State = ProjectionState.State


class Fenced(Exception):
    """Another runner or a rebuild took the projection over: stop working on it."""


class ShardsChanged(ImproperlyConfigured):
    """A projection's ``shards`` differs from the number its checkpoints were split into."""


class Moved(Exception):
    """The checkpoint or state changed under the worker (retry, skip, stop): re-read the row."""


@dataclass(frozen=True)
class Claim:
    """The right to work on one projection, valid while the row keeps this ``generation``."""

    name: str
    generation: int
    owner: str


def to_db_time(value: datetime) -> datetime:
    """An event's naive UTC time as a ``DateTimeField`` value under the current ``USE_TZ``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=UTC) if settings.USE_TZ else value


def ensure_rows(alias: str, units: Sequence[Unit]) -> None:
    """Create the rows of units that have none yet (checkpoint 0, running).

    Raises:
        ShardsChanged: A projection's rows were made for another number of shards.
    """
    rows = ProjectionState.objects.using(alias)
    for projection in {id(u.projection): u.projection for u in units}.values():
        check_shards(alias, projection)
    existing = set(rows.filter(name__in=[u.row for u in units]).values_list("name", flat=True))
    for unit in units:
        if unit.row not in existing:
            rows.get_or_create(
                name=unit.row,
                defaults={
                    "projection": unit.projection.name,
                    "version": unit.version,
                    "shard": unit.shard,
                    "shards": unit.shards,
                },
            )


def check_shards(alias: str, projection: Projection) -> None:
    """Refuse a projection whose stored rows were split into another number of shards.

    Raises:
        ShardsChanged: Naming the numbers and the ways to change it.
    """
    stored = set(
        ProjectionState.objects.using(alias)
        .filter(projection=projection.name, version=projection.version)
        .exclude(state=State.RETIRED)
        .values_list("shards", flat=True)
    )
    stored.discard(projection.shards)
    if stored:
        raise ShardsChanged(
            f"projection {projection.name!r} (version {projection.version}) runs with "
            f"{', '.join(map(str, sorted(stored)))} shard(s) in the database but "
            f"{type(projection).__qualname__}.shards = {projection.shards}: re-splitting its "
            "checkpoints would skip or repeat events. Put shards back, or change the number "
            f"with a new version (version = {projection.version + 1}: it replays beside the "
            "live one and takes over when caught up), or stop the runners and run "
            f"`manage.py eventhex_projections rebuild {projection.name}` (reset and replay "
            "with the new number); see docs/projections.md, 'Changing the number of shards'"
        )


def read_row(alias: str, name: str) -> ProjectionState:
    """The projection's row as it is now."""
    return ProjectionState.objects.using(alias).get(name=name)


def claim(alias: str, name: str, owner: str, lease: timedelta | None = None) -> Claim | None:
    """Take the projection over for ``owner`` by raising its generation.

    Refused (None) for a retired version, while a rebuild that is still alive holds it, or,
    with ``lease`` (the SQLite ownership), while another owner's lease has not expired. A
    rebuild whose lease expired is carried on as a normal run from its checkpoint.
    """
    now = timezone.now()
    with transaction.atomic(using=alias):
        row = ProjectionState.objects.using(alias).select_for_update().get(name=name)
        if row.state == State.RETIRED:
            return None
        lease_live = row.lease_until is not None and row.lease_until > now
        taken = row.owner not in ("", owner) and lease_live
        if taken and (row.state == State.REBUILDING or lease is not None):
            return None
        row.generation += 1
        row.owner = owner
        row.lease_until = now + lease if lease is not None else None
        if row.state == State.REBUILDING:
            row.state = State.RUNNING
        row.save(update_fields=["generation", "owner", "lease_until", "state", "updated_at"])
        return Claim(name=name, generation=row.generation, owner=owner)


def renew(alias: str, held: Claim, lease: timedelta) -> bool:
    """Extend the lease; False when the projection was taken over meanwhile."""
    updated = (
        ProjectionState.objects.using(alias)
        .filter(name=held.name, generation=held.generation)
        .update(lease_until=timezone.now() + lease)
    )
    return updated == 1


def release(alias: str, held: Claim) -> None:
    """Give the projection up, unless someone took it over already."""
    ProjectionState.objects.using(alias).filter(name=held.name, generation=held.generation).update(
        owner="", lease_until=None
    )


def lock_for_batch(
    alias: str, held: Claim, position: int, state: str = State.RUNNING
) -> ProjectionState:
    """Lock the row inside the batch's transaction and check the fence.

    Raises:
        Fenced: The generation changed: someone else owns the projection now.
        Moved: The checkpoint is no longer ``position``, or the state is no longer ``state``.
    """
    row = ProjectionState.objects.using(alias).select_for_update().get(name=held.name)
    if row.generation != held.generation:
        raise Fenced(held.name)
    if int(row.position) != position or row.state != state:
        raise Moved(held.name)
    return row


def advance(
    alias: str, name: str, records: Sequence[Recorded], through: Recorded | None = None
) -> int:
    """Move the checkpoint past ``records`` (inside the batch's transaction); the new position.

    A shard passes ``through``, the last event it read: the checkpoint moves past the other
    shards' events too, while ``applied`` counts only its own. Clears ``last_error``: the
    projection applied events after its last failure.
    """
    last = through if through is not None else records[-1]
    event = last.wrapped_event
    _move_past(alias, name, last.position, event.uuid, event.created_at, len(records))
    return last.position


def _move_past(
    alias: str, name: str, position: int, uuid: UUID, created_at: datetime, applied: int
) -> None:
    ProjectionState.objects.using(alias).filter(name=name).update(
        position=Decimal(position),
        last_event_uuid=uuid,
        last_event_at=to_db_time(created_at),
        applied=F("applied") + applied,
        last_error="",
    )


def pass_raw(alias: str, name: str, record: RecordedRaw) -> None:
    """Move the checkpoint past ``record``, which this shard does not apply (applied: 0)."""
    entry = record.entry
    _move_past(alias, name, record.position, entry.uuid, entry.created_at, 0)


def clear_failure(alias: str, held: Claim, error: str) -> None:
    """Clear ``last_error`` if it is still ``error`` (no newer failure replaced it)."""
    ProjectionState.objects.using(alias).filter(
        name=held.name, generation=held.generation, last_error=error
    ).update(last_error="")


def note_failure(alias: str, held: Claim, error: str) -> None:
    """Record ``error`` as the projection's ``last_error`` while its event is being retried."""
    ProjectionState.objects.using(alias).filter(name=held.name, generation=held.generation).update(
        last_error=error
    )


def mark_caught_up(alias: str, held: Claim) -> None:
    """Note the first time the unit read everything there was (a new version's go-live)."""
    ProjectionState.objects.using(alias).filter(
        name=held.name, generation=held.generation, caught_up_at__isnull=True
    ).update(caught_up_at=timezone.now())


def park(
    alias: str,
    held: Claim,
    record: Recorded | RecordedRaw,
    event_name: str,
    previous_position: int,
    error: str,
    attempts: int,
    go_on: bool,
    state: str = State.RUNNING,
) -> None:
    """Keep ``record`` (stored as ``event_name``) with its traceback.

    ``record`` is the event as the handler got it, or as stored when it could not be built.
    Then move the checkpoint past it (``go_on``, ``on_failure = "park"``) or stop the
    projection at it (``on_failure = "stop"``) until an operator retries or skips it.
    """
    if isinstance(record, RecordedRaw):
        entry = record.entry
        uuid, stream, version, created_at = (
            entry.uuid,
            entry.stream_id,
            entry.version,
            entry.created_at,
        )
    else:
        event = record.wrapped_event
        uuid, stream, version, created_at = (
            event.uuid,
            record.stream_id,
            event.version,
            event.created_at,
        )
    with transaction.atomic(using=alias):
        row = lock_for_batch(alias, held, previous_position, state)
        ParkedEvent.objects.using(alias).update_or_create(
            projection=row,
            event_uuid=uuid,
            defaults={
                "event_name": event_name,
                "stream_uuid": stream,
                "stream_name": stream.name,
                "stream_category": stream.category or "",
                "tenant_id": record.tenant_id or "",
                "version": version,
                "position": Decimal(record.position),
                "previous_position": Decimal(previous_position),
                "error": error,
                "attempts": attempts,
                "status": ParkedEvent.Status.PARKED,
                "resolved_at": None,
            },
        )
        rows = ProjectionState.objects.using(alias).filter(name=held.name)
        if go_on:
            _move_past(alias, held.name, record.position, uuid, created_at, 0)
            rows.update(last_error=error)
        else:
            rows.update(state=State.STOPPED, last_error=error)
