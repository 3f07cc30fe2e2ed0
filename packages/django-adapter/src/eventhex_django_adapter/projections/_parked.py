"""Operators' actions on parked events: retry (apply it now) and skip (leave it out).

Both lock the projection's row, like a batch does, so they never run at the same time as the
owning runner's batch. For a projection stopped at the event (``on_failure = "stop"``) a
successful retry or a skip moves its checkpoint past the event and sets it running again; the
runner picks it up within a second. For ``on_failure = "park"`` the projection went on long
ago, so a retry applies the event out of its original order.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from event_sourcery import StreamId
from event_sourcery.event import EventRegistry, Recorded

from eventhex_django_adapter._failure_text import failure_text, name_carries_encrypted_fields
from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

__all__ = ["ParkedOutcome", "retry_parked", "skip_parked"]

State = ProjectionState.State


@dataclass(frozen=True)
class ParkedOutcome:
    """What a retry or skip did: ``ok`` False means the event stays parked (see ``detail``)."""

    parked_id: int
    ok: bool
    detail: str


def _recorded(backend: DjangoBackend, parked: ParkedEvent) -> Recorded:
    stream_id = StreamId(
        uuid=parked.stream_uuid,
        name=parked.stream_name,
        category=parked.stream_category or None,
    )
    store = backend.in_tenant_mode(parked.tenant_id) if parked.tenant_id else backend
    version = parked.version or 0
    loaded = store.event_store.load_stream(stream_id, start=version, stop=version + 1)
    found = [event for event in loaded if event.uuid == parked.event_uuid]
    if not found:
        raise LookupError(f"event {parked.event_uuid} is no longer in stream {stream_id}")
    return Recorded(
        wrapped_event=found[0],
        stream_id=stream_id,
        position=int(parked.position),
        tenant_id=parked.tenant_id,
    )


def _resolve(parked: ParkedEvent, row: ProjectionState, status: str, applied: bool) -> None:
    parked.status = status
    parked.resolved_at = timezone.now()
    parked.save(update_fields=["status", "resolved_at"])
    blocking = row.state == State.STOPPED and int(row.position) == int(parked.previous_position)
    updates: dict[str, object] = {}
    if blocking:
        updates.update(
            state=State.RUNNING,
            position=Decimal(parked.position),
            last_event_uuid=parked.event_uuid,
            last_error="",
        )
    if applied:
        updates["applied"] = F("applied") + 1
    if updates:
        ProjectionState.objects.using(row._state.db).filter(pk=row.pk).update(**updates)


def _locked(alias: str, parked_id: int) -> tuple[ParkedEvent, ProjectionState]:
    parked = ParkedEvent.objects.using(alias).select_related("projection").get(pk=parked_id)
    row = ProjectionState.objects.using(alias).select_for_update().get(pk=parked.projection_id)
    parked = ParkedEvent.objects.using(alias).select_for_update().get(pk=parked_id)
    if parked.status != ParkedEvent.Status.PARKED:
        raise ValueError(f"parked event {parked_id} was {parked.status} already")
    return parked, row


def retry_parked(backend: DjangoBackend, projection: Projection, parked_id: int) -> ParkedOutcome:
    """Apply the parked event once more; on success the projection moves on past it."""
    alias = backend[DjangoConfig].database
    try:
        with transaction.atomic(using=alias):
            parked, row = _locked(alias, parked_id)
            record = _recorded(backend, parked)
            with transaction.atomic(using=alias):  # a failing handler rolls back alone
                projection.handle_batch([record])
            _resolve(parked, row, ParkedEvent.Status.RETRIED, applied=True)
    except (ValueError, LookupError, ParkedEvent.DoesNotExist) as error:
        return ParkedOutcome(parked_id, False, str(error))
    except Exception as error:
        event_name = ParkedEvent.objects.using(alias).get(pk=parked_id).event_name
        secret = name_carries_encrypted_fields(backend[EventRegistry], event_name)
        failure = failure_text(error, keep_messages=not secret)
        ParkedEvent.objects.using(alias).filter(pk=parked_id).update(
            error=failure, attempts=F("attempts") + 1
        )
        return ParkedOutcome(parked_id, False, f"the handler failed again:\n{failure}")
    return ParkedOutcome(parked_id, True, "applied")


def skip_parked(backend: DjangoBackend, parked_id: int) -> ParkedOutcome:
    """Leave the parked event out for good; a projection stopped at it moves on."""
    alias = backend[DjangoConfig].database
    try:
        with transaction.atomic(using=alias):
            parked, row = _locked(alias, parked_id)
            _resolve(parked, row, ParkedEvent.Status.SKIPPED, applied=False)
    except (ValueError, ParkedEvent.DoesNotExist) as error:
        return ParkedOutcome(parked_id, False, str(error))
    return ParkedOutcome(parked_id, True, "skipped")
