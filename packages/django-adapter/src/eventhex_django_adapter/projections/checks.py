"""System checks of ``settings.EVENTHEX_PROJECTIONS``.

* ``eventhex.E101`` the setting is not a list of dotted paths;
* ``eventhex.E102`` an entry cannot be imported, or is not a ``Projection`` subclass;
* ``eventhex.E103`` a projection's declaration is invalid (no name, both ``category`` and
  ``event_types``, a bad ``batch_size``, ``attempts``, ``on_failure`` or ``delivery``);
* ``eventhex.E104`` two projections share a name (they would share one checkpoint);
* ``eventhex.E105`` ``EVENTHEX_PROJECTIONS_BACKEND`` does not give a ``DjangoBackend``.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from eventhex_django_adapter.projections._registry import (
    BACKEND_SETTING,
    SETTING,
    projections_backend,
    registered,
)

__all__ = ["check_projections", "register"]


def check_projections(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered projection imports, is well declared and has its own name."""
    try:
        entries = registered()
    except ImproperlyConfigured as error:
        return [
            checks.Error(
                str(error),
                hint=f"{SETTING} = ['app.projections.MyProjection', ...]",
                id="eventhex.E101",
            )
        ]
    messages: list[checks.CheckMessage] = []
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.cls is None:
            messages.append(
                checks.Error(
                    f"settings.{SETTING}: {entry.path} {entry.error}.",
                    hint="Fix the dotted path, or the import error in that module.",
                    id="eventhex.E102",
                )
            )
            continue
        messages.extend(
            checks.Error(problem, hint="See the projections guide.", id="eventhex.E103")
            for problem in entry.cls.problems()
        )
        name = entry.cls.name
        if name in seen:
            messages.append(
                checks.Error(
                    f"settings.{SETTING}: {entry.path} and {seen[name]} are both named {name!r}.",
                    hint="Give each projection its own name; the checkpoint is stored under it.",
                    id="eventhex.E104",
                )
            )
        seen.setdefault(name, entry.path)
    if getattr(settings, BACKEND_SETTING, None) is not None:
        try:
            projections_backend()
        except ImproperlyConfigured as error:
            messages.append(
                checks.Error(
                    str(error),
                    hint="Point it at a DjangoBackend, or at a function returning one.",
                    id="eventhex.E105",
                )
            )
    return messages


def register() -> None:
    """Register the check with Django (called from ``AppConfig.ready``)."""
    checks.register(check_projections, checks.Tags.compatibility)
