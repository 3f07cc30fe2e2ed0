"""Each projection's position, lag, owner, state and parked count, as operators see them.

The state shown is what an operator must know first: ``stopped`` (waiting at a parked event),
then ``failing`` (its last try failed: an event being retried, or just parked and passed),
then ``no runner`` (nobody works on it: its lag only grows), else the row's own state
(``running``, ``rebuilding`` or ``retired``).

Lag is measured against the event table itself, not by decoding positions: the events of the
projection's selection that come after its last applied event in commit order (``(tx_id, id)``
on PostgreSQL, ``id`` on SQLite), of the shard's streams for a shard. Lag in seconds is the age
of the oldest of them.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import Count, Q, QuerySet

from eventhex_django_adapter import replica_lag
from eventhex_django_adapter.backend import DjangoBackend
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.models import Event
from eventhex_django_adapter.projections._ownership import PROJECTION_LOCKS
from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections._registry import event_names
from eventhex_django_adapter.projections._shards import ShardOf, row_name, units_of
from eventhex_django_adapter.projections._versions import live_version
from eventhex_django_adapter.projections.models import ParkedEvent, ProjectionState

__all__ = [
    "ATTENTION_STATES",
    "FAILING",
    "NO_RUNNER",
    "ProjectionStatus",
    "checkpoint_rows",
    "owner_alive",
    "pending_events",
    "projection_statuses",
    "shown_state",
]

FAILING = "failing"
"""The state of a projection whose last try failed (``last_error`` is set)."""

NO_RUNNER = "no runner"
"""The state of a running projection that no live runner owns."""

ATTENTION_STATES = (ProjectionState.State.STOPPED.value, FAILING)
"""States that make ``eventhex_projections status`` exit non-zero (2)."""


@dataclass(frozen=True)
class ProjectionStatus:
    """One projection as ``eventhex_projections status`` shows it.

    Attributes:
        name: The projection's name.
        state: ``stopped`` (waiting at a parked event), ``failing`` (its last try failed),
            ``no runner`` (no live owner), ``running``, ``rebuilding`` or ``retired``, the
            first that holds.
        position: The checkpoint: the position of the last applied event (0 before any).
        applied: Events applied since the projection started or was last rebuilt.
        lag_events: Selected events not applied yet.
        lag_seconds: Age of the oldest of them (0 when none).
        owner: The runner (or rebuild) working on it; empty when nobody is.
        owner_alive: Whether that owner still holds its lock or lease.
        parked: Parked events waiting for a retry or a skip.
        last_error: The traceback of the last failed try (a handler that raised, an event
            that could not be built); empty once an event after it applied.
        version: The projection's version (blue/green deployments run two).
        live: Whether read code reads this version (see ``live_version``).
        shard: The shard this row is, or None for a whole projection (shards summed up; its
            position is the slowest shard's, its lag the sum and the oldest of theirs).
        shards: How many shards the projection has.
        replica: The streaming replica its events are read from
            (``DjangoConfig.subscription_database``); empty when they come from the primary.
        replica_lag_bytes: WAL the replica has not replayed yet (0 without a replica).
        replica_lag_seconds: Age of the replica's last replayed commit while WAL waits.
    """

    name: str
    state: str
    position: int
    applied: int
    lag_events: int
    lag_seconds: float
    owner: str
    owner_alive: bool
    parked: int
    last_error: str
    version: int = 1
    live: bool = True
    shard: int | None = None
    shards: int = 1
    replica: str = ""
    replica_lag_bytes: int = 0
    replica_lag_seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the position as a string: it may exceed 64 bits)."""
        data = asdict(self)
        data["position"] = str(self.position)
        return data


def pending_events(
    backend: DjangoBackend, projection: Projection, last_event_uuid: Any, shard: int | None = None
) -> "QuerySet[Event]":
    """The selected events after the one with ``last_event_uuid`` (of ``shard``), in order."""
    alias = backend[DjangoConfig].database
    events = Event.objects.using(alias)
    if shard is not None and projection.shards > 1:
        events = events.alias(shard=ShardOf("stream__uuid", projection.shards)).filter(shard=shard)
    if projection.category is not None:
        events = events.filter(category=projection.category)
    else:
        names = event_names(backend, projection)
        if names is not None:
            events = events.filter(name__in=names)
    postgres = connections[alias].vendor == "postgresql"
    order = ("tx_id", "id") if postgres else ("id",)
    last = (
        Event.objects.using(alias).filter(uuid=last_event_uuid).values_list("tx_id", "id").first()
        if last_event_uuid is not None
        else None
    )
    if last is not None:
        tx_id, event_id = last
        if postgres:
            events = events.filter(Q(tx_id__gt=tx_id) | Q(tx_id=tx_id, id__gt=event_id))
        else:
            events = events.filter(id__gt=event_id)
    return events.order_by(*order)


def _age(created_at: datetime | None) -> float:
    if created_at is None:
        return 0.0
    if created_at.tzinfo is not None:
        created_at = created_at.astimezone(UTC).replace(tzinfo=None)
    now = datetime.now(UTC).replace(tzinfo=None)
    return max(0.0, (now - created_at).total_seconds())


def _locked_rows(alias: str) -> set[int] | None:
    """Ids of projection rows whose advisory lock is held; None where leases are used."""
    if connections[alias].vendor != "postgresql":
        return None
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s::bigint::oid AND objsubid = 2 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            [PROJECTION_LOCKS],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def checkpoint_rows(alias: str, names: Sequence[str]) -> dict[str, ProjectionState]:
    """The checkpoint rows named ``names`` by name, each with ``waiting``: its parked events."""
    parked = Q(parked_events__status=ParkedEvent.Status.PARKED)
    found = ProjectionState.objects.using(alias).filter(name__in=names)
    return {row.name: row for row in found.annotate(waiting=Count("parked_events", filter=parked))}


def owner_alive(row: ProjectionState | None, locked: set[int] | None, now: datetime) -> bool:
    """Whether ``row``'s owner still holds it: its lease runs, or its advisory lock is held
    (``locked``, from :func:`_locked_rows`)."""
    if row is None or not row.owner:
        return False
    if row.lease_until is not None:
        return bool(row.lease_until > now)
    return locked is not None and row.id in locked


def shown_state(row: ProjectionState | None, alive: bool) -> str:
    """The state ``status`` and the admin show: stopped, failing, no runner, or the row's own
    (a retired version stays ``retired``: nobody is meant to run it)."""
    if row is not None and row.state in (
        ProjectionState.State.STOPPED,
        ProjectionState.State.RETIRED,
    ):
        return str(row.state)
    if row is not None and row.last_error:
        return FAILING
    if not alive:
        return NO_RUNNER
    return str(row.state) if row is not None else ProjectionState.State.RUNNING.value


def projection_statuses(
    backend: DjangoBackend, projections: Sequence[Projection]
) -> list[ProjectionStatus]:
    """The status of each projection (a row that does not exist yet reads as never run).

    A sharded projection gives its whole first (named ``name``, or ``name@vV`` after version
    1), then one status per shard (named like its row, ``name#K/N``).
    """
    from django.utils import timezone

    alias = backend[DjangoConfig].database
    units = [unit for projection in projections for unit in units_of(projection)]
    rows = checkpoint_rows(alias, [u.row for u in units])
    locked = _locked_rows(alias)
    live = {p.name: live_version(p.name, alias) for p in projections}
    now = timezone.now()
    lag = _replica_lag(backend[DjangoConfig])
    found = []
    for projection in projections:
        shards = []
        for unit in units_of(projection):
            row = rows.get(unit.row)
            sharded = unit.shard if projection.shards > 1 else None
            pending = pending_events(
                backend, projection, row.last_event_uuid if row else None, sharded
            )
            oldest = pending.values_list("created_at", flat=True).first()
            owner = row.owner if row else ""
            alive = owner_alive(row, locked, now)
            shards.append(
                ProjectionStatus(
                    name=unit.row,
                    state=shown_state(row, alive),
                    position=int(row.position) if row else 0,
                    applied=row.applied if row else 0,
                    lag_events=pending.count(),
                    lag_seconds=round(_age(oldest), 3),
                    owner=owner,
                    owner_alive=alive,
                    parked=getattr(row, "waiting", 0) if row else 0,
                    last_error=row.last_error if row else "",
                    version=projection.version,
                    live=live[projection.name] == projection.version,
                    shard=sharded,
                    shards=projection.shards,
                    **lag,
                )
            )
        if projection.shards > 1:
            found.append(_whole(projection, shards))
        found.extend(shards)
    return found


def _whole(projection: Projection, shards: Sequence[ProjectionStatus]) -> ProjectionStatus:
    """A sharded projection as one: its slowest shard's position and the sums of the rest."""
    states = {s.state for s in shards}
    state = next(
        (
            s
            for s in ("stopped", FAILING, NO_RUNNER, "rebuilding", "running", "retired")
            if s in states
        ),
        "running",
    )
    owners = {s.owner for s in shards if s.owner}
    return ProjectionStatus(
        name=row_name(projection.name, projection.version),
        state=state,
        position=min(s.position for s in shards),
        applied=sum(s.applied for s in shards),
        lag_events=sum(s.lag_events for s in shards),
        lag_seconds=max(s.lag_seconds for s in shards),
        owner=f"{len(owners)} runner(s)" if owners else "",
        owner_alive=all(s.owner_alive for s in shards),
        parked=sum(s.parked for s in shards),
        last_error=next((s.last_error for s in shards if s.last_error), ""),
        version=projection.version,
        live=shards[0].live,
        shard=None,
        shards=projection.shards,
        replica=shards[0].replica,
        replica_lag_bytes=shards[0].replica_lag_bytes,
        replica_lag_seconds=shards[0].replica_lag_seconds,
    )


def _replica_lag(config: DjangoConfig) -> dict[str, Any]:
    """The replica the runner reads events from and how far it is behind, as status fields."""
    replica = config.subscription_database
    if replica is None or replica == config.database:
        return {}
    measured = replica_lag(replica, config.database)
    return {
        "replica": replica,
        "replica_lag_bytes": measured.bytes_behind,
        "replica_lag_seconds": round(measured.seconds_behind, 3),
    }
