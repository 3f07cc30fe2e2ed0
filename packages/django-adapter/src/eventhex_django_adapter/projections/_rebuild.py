"""``rebuild``: take one projection over, ``reset()`` it, replay every event, hand it back.

The rebuild raises the row's generation (runners working on it stop at their next batch) and
holds a lease that it renews while it replays. The reset and the checkpoint's return to 0
commit together. When the replay has caught up, the projection is set running with no owner,
and a runner claims it again and carries on live. If the rebuild dies, its lease expires and
a runner carries the replay on from the rebuild's last checkpoint. Other projections are not
touched. A sharded projection is taken over, reset and replayed shard after shard; rows made for
another number of shards are deleted first (the documented way to change ``shards``).
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.projections import _store
from eventhex_django_adapter.projections._progress import Progress
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._runner import runner_name
from eventhex_django_adapter.projections._shards import units_of
from eventhex_django_adapter.projections._status import pending_events
from eventhex_django_adapter.projections._store import Claim
from eventhex_django_adapter.projections._worker import ProjectionWorker
from eventhex_django_adapter.projections.metrics import ProjectionMetrics
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

__all__ = ["RebuildResult", "rebuild"]

State = ProjectionState.State


@dataclass(frozen=True)
class RebuildResult:
    """How a rebuild ended.

    Attributes:
        applied: Events replayed.
        position: The checkpoint reached.
        finished: True when the replay caught up and the projection runs live again; False
            when it was interrupted (a runner carries the replay on from its checkpoint) or
            stopped at a parked event.
        state: The projection's state afterwards.
    """

    applied: int
    position: int
    finished: bool
    state: str


def _take_over(alias: str, name: str, owner: str, lease: timedelta) -> Claim:
    with transaction.atomic(using=alias):
        row = ProjectionState.objects.using(alias).select_for_update().get(name=name)
        row.generation += 1
        row.owner = owner
        row.state = State.REBUILDING
        row.lease_until = timezone.now() + lease
        row.save(update_fields=["generation", "owner", "state", "lease_until", "updated_at"])
        return Claim(name=name, generation=row.generation, owner=owner)


def _reset(alias: str, projection: Projection, helds: Sequence[Claim]) -> None:
    with transaction.atomic(using=alias):
        rows = ProjectionState.objects.using(alias).select_for_update()
        locked = list(rows.filter(name__in=[held.name for held in helds]).order_by("name"))
        generations = {row.name: row.generation for row in locked}
        for held in helds:
            if generations.get(held.name) != held.generation:
                raise _store.Fenced(held.name)
        projection.reset()
        ParkedEvent.objects.using(alias).filter(projection__in=locked).delete()
        rows.filter(pk__in=[row.pk for row in locked]).update(
            position=0,
            last_event_uuid=None,
            last_event_at=None,
            applied=0,
            last_error="",
            caught_up_at=None,
        )


def _drop_other_splits(alias: str, projection: Projection) -> None:
    """Delete the rows of this version made for another number of shards (a re-split)."""
    ProjectionState.objects.using(alias).filter(
        projection=projection.name, version=projection.version
    ).exclude(shards=projection.shards).delete()


def _hand_back(alias: str, held: Claim) -> str:
    with transaction.atomic(using=alias):
        row = ProjectionState.objects.using(alias).select_for_update().get(name=held.name)
        if row.generation != held.generation:
            return str(row.state)
        if row.state == State.REBUILDING:
            row.state = State.RUNNING
        row.owner = ""
        row.lease_until = None
        row.save(update_fields=["state", "owner", "lease_until", "updated_at"])
        return str(row.state)


def _keep_lease(alias: str, held: Claim, lease: timedelta, done: threading.Event) -> None:
    from django.db import connections

    try:
        while not done.wait(lease.total_seconds() / 3):
            if not _store.renew(alias, held, lease):
                return
    finally:
        connections.close_all()


def rebuild(
    backend: DjangoBackend,
    projection: Projection,
    progress: Progress,
    stop: threading.Event | None = None,
    lease: timedelta = timedelta(seconds=15),
) -> RebuildResult:
    """Reset ``projection`` and replay every selected event into it, showing ``progress``.

    Raises:
        NotImplementedError: The projection defines no ``reset()``.
    """
    if not projection.can_reset():
        projection.reset()  # raises the explanatory NotImplementedError
    alias = backend[DjangoConfig].database
    stop = stop or threading.Event()
    units = units_of(projection)
    _drop_other_splits(alias, projection)
    _store.ensure_rows(alias, units)
    owner = f"rebuild:{runner_name()}"
    helds = [_take_over(alias, unit.row, owner, lease) for unit in units]
    done = threading.Event()
    keepers = [
        threading.Thread(
            target=_keep_lease, args=(alias, held, lease, done), name="rebuild lease", daemon=True
        )
        for held in helds
    ]
    for keeper in keepers:
        keeper.start()
    applied = [0]

    def count(events: int, position: int) -> None:
        applied[0] += events
        progress.advance(events)

    finished = True
    states = []
    try:
        _reset(alias, projection, helds)
        progress.start(pending_events(backend, projection, None).count())
        for unit, held in zip(units, helds, strict=True):  # shard after shard
            worker = ProjectionWorker(
                projection,
                backend,
                alias,
                held,
                stop,
                ProjectionMetrics(),
                state=State.REBUILDING,
                until_caught_up=True,
                on_batch=count,
                unit=unit,
            )
            if finished:
                worker.run()
                finished = worker.caught_up and not worker.failed
        progress.finish()
        states = [_hand_back(alias, held) for held in helds]  # a runner carries on the rest
    finally:
        done.set()
        for keeper in keepers:
            keeper.join()
    position = max(int(_store.read_row(alias, held.name).position) for held in helds)
    state = next((s for s in states if s != State.RUNNING), State.RUNNING)
    return RebuildResult(applied[0], position, finished, str(state))
