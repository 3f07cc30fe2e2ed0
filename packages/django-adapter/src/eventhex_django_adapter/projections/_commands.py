"""What the ``eventhex_projections`` management command does, apart from parsing arguments."""

import gc
import logging
import threading
from collections.abc import Sequence
from typing import Any, TextIO

from django.core.management.base import CommandError
from django.db import DatabaseError

from eventhex_core_ports._internal.logs import LogFormat, configure_logging
from eventhex_core_ports._internal.terminal import printable
from eventhex_django_adapter import SchemaNotMigrated
from eventhex_django_adapter._codec import format_position
from eventhex_django_adapter._db import unmigrated
from eventhex_django_adapter.config import DjangoConfig
from eventhex_django_adapter.projections._parked import ParkedOutcome, retry_parked, skip_parked
from eventhex_django_adapter.projections._progress import PlainProgress, progress_for
from eventhex_django_adapter.projections._rebuild import RebuildResult
from eventhex_django_adapter.projections._rebuild import rebuild as rebuild_projection
from eventhex_django_adapter.projections._registry import load_projections, projections_backend
from eventhex_django_adapter.projections._runner import ProjectionRunner
from eventhex_django_adapter.projections._shards import units_of
from eventhex_django_adapter.projections._status import (
    ATTENTION_STATES,
    NO_RUNNER,
    ProjectionStatus,
    projection_statuses,
)
from eventhex_django_adapter.projections._store import ShardsChanged, check_shards
from eventhex_django_adapter.projections._versions import live_version
from eventhex_django_adapter.projections.metrics import (
    ProjectionMetrics,
    PrometheusProjectionMetrics,
)
from eventhex_django_adapter.projections.models import ParkedEvent

logger = logging.getLogger("eventhex_django_adapter.projections")

__all__ = [
    "act_on_parked",
    "freeze_start_up_heap",
    "outcome_line",
    "parked_rows",
    "parked_table",
    "rebuild",
    "run",
    "status_exit",
    "status_table",
    "statuses",
]


def run(
    names: Sequence[str],
    stop: threading.Event,
    *,
    claim_interval: float,
    metrics_port: int | None,
    metrics_address: str,
    log_format: LogFormat,
    log_level: str,
) -> None:
    """Run the daemon until ``stop`` is set."""
    projections = load_projections(names)
    if not projections:
        raise CommandError("no projections: list Projection classes in EVENTHEX_PROJECTIONS")
    backend = projections_backend()
    alias = backend[DjangoConfig].database
    try:
        for projection in projections:
            check_shards(alias, projection)
    except ShardsChanged as error:
        raise CommandError(str(error)) from error
    except DatabaseError as error:
        missing = unmigrated(error, alias)
        if missing is None:
            raise
        raise CommandError(str(missing)) from error
    configure_logging(log_level, log_format)
    metrics: ProjectionMetrics = ProjectionMetrics()
    if metrics_port is not None:
        metrics = PrometheusProjectionMetrics(lambda: projection_statuses(backend, projections))
        metrics.serve(metrics_port, metrics_address)
    runner = ProjectionRunner(
        projections, backend, stop, claim_interval=claim_interval, metrics=metrics
    )
    frozen = freeze_start_up_heap()
    logger.info(
        "projection runner %s froze %d start-up objects out of the garbage collector's sight",
        runner.owner,
        frozen,
        extra={"owner": runner.owner},
    )
    try:
        runner.run()
    except SchemaNotMigrated as error:
        raise CommandError(str(error)) from error
    finally:
        metrics.close()


def freeze_start_up_heap() -> int:
    """Move every object alive after start-up out of the garbage collector's sight.

    Applying events builds a dozen short-lived objects per event, so the collector runs full
    collections often, and each one would walk Django's start-up objects again: a catch-up of
    20,000 events ran 1.8 times as fast with them frozen (``docs/operations.md``). The daemon is its
    own process, so this process-wide choice is its to make. Returns how many were frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def statuses() -> list[ProjectionStatus]:
    """Every registered projection's status."""
    return projection_statuses(projections_backend(), load_projections())


def _lag(seconds: float) -> str:
    return f"{seconds:,.1f}s"


def _last_line(error: str, width: int = 100) -> str:
    lines = error.strip().splitlines()
    line = lines[-1] if lines else ""
    return line if len(line) <= width else f"{line[: width - 3]}..."


def status_table(rows: Sequence[ProjectionStatus]) -> str:
    """A fixed-width table of statuses, each with the last line of its error, every cell
    terminal-safe (:func:`printable`)."""
    header = ("projection", "state", "position", "lag", "lag age", "owner", "parked", "error")
    lines = [
        tuple(
            printable(cell)
            for cell in (
                s.name,
                s.state if s.live else f"{s.state} (not live yet)",
                format_position(s.position),
                f"{s.lag_events:,}",
                _lag(s.lag_seconds),
                (s.owner + ("" if s.owner_alive else " (gone)")) if s.owner else "-",
                str(s.parked),
                _last_line(s.last_error),
            )
        )
        for s in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=False)]
    table = "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *lines]
    )
    replicas = {(s.replica, s.replica_lag_bytes, s.replica_lag_seconds) for s in rows if s.replica}
    notes = [
        f"events read from replica {name!r}: {behind:,} bytes of WAL, {seconds:.1f} s behind"
        for name, behind, seconds in sorted(replicas)
    ]
    return "\n".join([table, *notes])


def status_exit(rows: Sequence[ProjectionStatus]) -> CommandError | None:
    """The error ``status`` exits with: 2 when a projection is failing or stopped, else 3 when
    one has no runner; ``None`` (exit 0) when every projection is running or rebuilding."""
    needing = [s.name for s in rows if s.state in ATTENTION_STATES]
    if needing:
        return CommandError(
            f"{len(needing)} projection(s) failing or stopped: {', '.join(needing)}; see "
            "`eventhex_projections parked list` and the runner's logs",
            returncode=2,
        )
    unowned = [s.name for s in rows if s.state == NO_RUNNER]
    if unowned:
        return CommandError(
            f"{len(unowned)} projection(s) without a runner: {', '.join(unowned)}; start "
            "`manage.py eventhex_projections run`",
            returncode=3,
        )
    return None


def rebuild(name: str, stop: threading.Event, out: TextIO, plain: bool) -> RebuildResult:
    """Rebuild projection ``name`` with a progress display on ``out``."""
    versions = load_projections([name])
    live = live_version(name, projections_backend()[DjangoConfig].database)
    projection = next((p for p in versions if p.version == live), versions[-1])
    if not projection.can_reset():
        raise CommandError(
            f"projection {name!r} cannot be rebuilt: define reset() on "
            f"{type(projection).__qualname__} to delete its read model"
        )
    progress = PlainProgress(name, out) if plain else progress_for(name, out)
    return rebuild_projection(projections_backend(), projection, progress, stop)


def _parked_query(projection: str | None) -> Any:
    alias = projections_backend()[DjangoConfig].database
    query = ParkedEvent.objects.using(alias).filter(status=ParkedEvent.Status.PARKED)
    if projection is not None:
        load_projections([projection])  # an unknown name is an error, not an empty list
        query = query.filter(projection__projection=projection)
    return query.select_related("projection").order_by("id")


def parked_rows(projection: str | None) -> list[dict[str, Any]]:
    """Parked events waiting for a decision, as dicts."""
    return [
        {
            "id": p.pk,
            "projection": p.projection.name,
            "event_uuid": str(p.event_uuid),
            "event_name": p.event_name,
            "stream": p.stream_name or str(p.stream_uuid),
            "version": p.version,
            "position": str(p.position),
            "attempts": p.attempts,
            "parked_at": p.parked_at.isoformat(),
            "error": p.error.strip().splitlines()[-1] if p.error.strip() else "",
        }
        for p in _parked_query(projection)
    ]


def parked_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per parked event, with the last line of its traceback; stored text (names,
    streams, errors) made terminal-safe with :func:`printable`."""
    if not rows:
        return "no parked events"
    return "\n".join(
        printable(
            f"{r['id']}  {r['projection']}  {r['event_name']}  {r['stream']} v{r['version']}  "
            f"tries {r['attempts']}  {r['parked_at']}  {r['error']}"
        )
        for r in rows
    )


def outcome_line(outcome: ParkedOutcome) -> str:
    """One retried or skipped parked event as a terminal-safe line."""
    mark = "ok" if outcome.ok else "FAILED"
    return printable(f"{outcome.parked_id}: {mark} {outcome.detail}")


def act_on_parked(
    verb: str, ids: Sequence[int], projection: str | None, every: bool
) -> list[ParkedOutcome]:
    """Retry or skip the given parked events (or all of one projection's)."""
    backend = projections_backend()
    by_name = {u.row: p for p in load_projections() for u in units_of(p)}
    query = _parked_query(projection)
    if not every:
        query = query.filter(pk__in=ids)
        missing = set(ids) - set(query.values_list("pk", flat=True))
        if missing:
            raise CommandError(
                f"no parked event waiting with id {', '.join(map(str, sorted(missing)))}: "
                "see `eventhex_projections parked list`"
            )
    outcomes = []
    for parked in list(query):
        if verb == "skip":
            outcomes.append(skip_parked(backend, parked.pk))
            continue
        target = by_name.get(parked.projection.name)
        if target is None:
            outcomes.append(
                ParkedOutcome(parked.pk, False, f"{parked.projection.name} is not registered")
            )
            continue
        outcomes.append(retry_parked(backend, target, parked.pk))
    return outcomes
