"""Blue/green versions: which version of a projection is live, and the switch to a newer one.

A projection class with a higher ``version`` runs beside the older one under its own rows, from
the first event on. The older version stays live (read code keeps reading its model) until every
shard of the newer one runs, has read everything there was once (``caught_up_at``) and is past
every checkpoint of the older version (so readers never see the model go back). Then, in one
transaction, the older version's rows are retired (their generation raised, so no batch of
theirs commits afterwards) and its ``retire()`` hook is called: the newer version is live.
"""

import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import F

from eventhex_django_adapter.projections._projection import Projection
from eventhex_django_adapter.projections.models import ProjectionState

__all__ = ["live_version", "promote_caught_up", "retired_rows"]

logger = logging.getLogger("eventhex_django_adapter.projections")

State = ProjectionState.State


def live_version(name: str, using: str = "default") -> int:
    """The version of projection ``name`` whose read model to read (1 before any run).

    It is the oldest version not retired: a newer one becomes live only once it has caught up.
    Read the version and the model in one snapshot (see the projections guide) when the old
    version's ``retire()`` deletes its rows.
    """
    versions = (
        ProjectionState.objects.using(using)
        .filter(projection=name)
        .exclude(state=State.RETIRED)
        .values_list("version", flat=True)
    )
    return min(versions, default=1)


def _ready(rows: Sequence[ProjectionState]) -> bool:
    """Every shard exists, runs, and has read everything there was once."""
    return (
        bool(rows)
        and len(rows) == rows[0].shards
        and all(r.caught_up_at and r.state == State.RUNNING for r in rows)
    )


def _ahead(newer: Sequence[ProjectionState], older: Sequence[ProjectionState]) -> bool:
    """Whether every shard of the newer version is past every checkpoint of the older ones:
    then the newer model holds every event the live one does, and readers never go back."""
    return min(r.position for r in newer) >= max(r.position for r in older)


def promote_caught_up(alias: str, projections: Sequence[Projection]) -> list[tuple[str, int]]:
    """Make each caught-up newer version live; ``(name, version)`` of those that went live.

    The versions it replaces are retired and their ``retire()`` is called (when this process
    has their class), in the same transaction.
    """
    names = {p.name for p in projections}
    rows = ProjectionState.objects.using(alias).filter(projection__in=names)
    by_version: dict[tuple[str, int], list[ProjectionState]] = {}
    for row in rows.exclude(state=State.RETIRED):
        by_version.setdefault((row.projection, row.version), []).append(row)
    promoted = []
    for name in names:
        versions = sorted(v for n, v in by_version if n == name)
        ready = [v for v in versions[1:] if _ready(by_version[(name, v)])]
        if ready and _switch(alias, name, ready[-1], projections):
            promoted.append((name, ready[-1]))
    return promoted


def _switch(alias: str, name: str, version: int, projections: Sequence[Projection]) -> bool:
    classes = {p.version: p for p in projections if p.name == name}
    with transaction.atomic(using=alias):
        rows = ProjectionState.objects.using(alias).select_for_update()
        older = list(rows.filter(projection=name, version__lt=version).exclude(state=State.RETIRED))
        if not older:  # another runner switched first
            return False
        newer = list(ProjectionState.objects.using(alias).filter(projection=name, version=version))
        if not (_ready(newer) and _ahead(newer, older)):
            return False
        for old in sorted({row.version for row in older}):
            if old in classes:
                classes[old].retire()
            else:
                logger.warning(
                    "projection %s version %d retired without its retire() hook: its class "
                    "is not registered in this runner",
                    name,
                    old,
                    extra={"projection": name},
                )
        rows.filter(pk__in=[row.pk for row in older]).update(
            state=State.RETIRED, generation=F("generation") + 1, owner="", lease_until=None
        )
    logger.info(
        "projection %s version %d is live; older versions retired",
        name,
        version,
        extra={"projection": name},
    )
    return True


def retired_rows(alias: str, rows: Sequence[str]) -> set[str]:
    """Which of the named rows are retired."""
    found = ProjectionState.objects.using(alias).filter(name__in=rows, state=State.RETIRED)
    return set(found.values_list("name", flat=True))
