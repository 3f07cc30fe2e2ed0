"""Projections: read models kept current by ``manage.py eventhex_projections run``.

Declare a :class:`Projection`, list it in ``settings.EVENTHEX_PROJECTIONS``, and run one or more
runners. Each batch's handler calls and its checkpoint commit in one transaction (exactly once
for read models in the event store's database); each projection has one owner among the live
runners (each shard of a sharded projection is owned on its own), and a dead runner's
projections are taken over within seconds. See the projections
guide for rebuilds, parked events and deployment.

Importing this package does not need ``django.setup()``; the runner, status, rebuild and parked
helpers are imported on first access.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from eventhex_django_adapter.projections._projection import Projection, handles

if TYPE_CHECKING:
    from eventhex_django_adapter.projections._parked import (
        ParkedOutcome,
        retry_parked,
        skip_parked,
    )
    from eventhex_django_adapter.projections._progress import PlainProgress
    from eventhex_django_adapter.projections._rebuild import RebuildResult, rebuild
    from eventhex_django_adapter.projections._registry import (
        load_projections,
        projections_backend,
    )
    from eventhex_django_adapter.projections._runner import ProjectionRunner
    from eventhex_django_adapter.projections._status import (
        ProjectionStatus,
        projection_statuses,
    )
    from eventhex_django_adapter.projections._versions import live_version

__all__ = [
    "ParkedOutcome",
    "PlainProgress",
    "Projection",
    "ProjectionRunner",
    "ProjectionStatus",
    "RebuildResult",
    "handles",
    "live_version",
    "load_projections",
    "projection_statuses",
    "projections_backend",
    "rebuild",
    "retry_parked",
    "skip_parked",
]

_LAZY = {
    "ParkedOutcome": "_parked",
    "retry_parked": "_parked",
    "skip_parked": "_parked",
    "PlainProgress": "_progress",
    "RebuildResult": "_rebuild",
    "rebuild": "_rebuild",
    "load_projections": "_registry",
    "projections_backend": "_registry",
    "ProjectionRunner": "_runner",
    "ProjectionStatus": "_status",
    "projection_statuses": "_status",
    "live_version": "_versions",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
