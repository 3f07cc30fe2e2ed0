"""Finding the outbox source a relay drains, by entry point name or ``module:attribute``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from eventhex_core_ports.ports.relay import OutboxSource

__all__ = ["ENTRY_POINT_GROUP", "SourceError", "SourceStartFailed", "load_source"]

ENTRY_POINT_GROUP = "eventhex.outbox_sources"


class SourceError(Exception):
    """The named source is not installed, not importable or failed to start; the message says
    which and what to do."""


class SourceStartFailed(SourceError):
    """The source is found and its options fit, but starting it failed (its project's settings
    cannot be imported, its app is not installed, its database is unknown): the message is the
    source's own, which names the cause and the fix."""


def load_source(spec: str, options: Mapping[str, str] | None = None) -> OutboxSource:
    """Build the source named by ``spec``.

    Args:
        spec: An entry point name in the ``eventhex.outbox_sources`` group, or
            ``package.module:attribute`` naming an :class:`OutboxSource` or a callable that
            returns one.
        options: Keyword arguments for that callable (``RelaySettings.source_options``).

    Raises:
        SourceError: Nothing by that name, not an outbox source, an option it does not take,
            or it failed to start.
    """
    target = _import_path(spec) if ":" in spec else _entry_point(spec)
    factory = callable(target) and not isinstance(target, OutboxSource)
    options = dict(options or {})
    if options:
        _check_options(spec, target if factory else None, options)
    try:
        source = target(**options) if factory else target
    except Exception as error:
        raise SourceStartFailed(f"source {spec!r} cannot start: {error}") from error
    if not isinstance(source, OutboxSource):
        raise SourceError(f"{spec!r} gave {type(source).__name__}, not an OutboxSource")
    return source


def _check_options(spec: str, factory: Any, options: dict[str, str]) -> None:
    if factory is None:
        raise SourceError(f"source {spec!r} is an instance, not a factory: it takes no options")
    signature = inspect.signature(factory)
    try:
        signature.bind(**options)
    except TypeError as error:
        takes = ", ".join(signature.parameters) or "none"
        message = f"source {spec!r} rejects its options: {error} (it takes: {takes})"
        raise SourceError(message) from None


def _import_path(spec: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SourceError(f"cannot import {module_name!r} for source {spec!r}: {error}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SourceError(f"module {module_name!r} has no attribute {attribute!r}") from None


def _entry_point(name: str) -> Any:
    found = entry_points(group=ENTRY_POINT_GROUP)
    for point in found:
        if point.name == name:
            try:
                return point.load()
            except Exception as error:
                raise SourceError(
                    f"source {name!r} ({point.value}) failed to load: {error}"
                ) from error
    names = ", ".join(sorted(p.name for p in found)) or "none installed"
    raise SourceError(
        f"no outbox source named {name!r} (installed: {names}); "
        "install the adapter that provides it or give 'module:attribute'"
    )
