"""Errors raised by eventhex itself (event_sourcery's own errors pass through unchanged)."""

from event_sourcery.exceptions import NoProviderConfigured

__all__ = ["BackendNotConfigured"]


class BackendNotConfigured(NoProviderConfigured):
    """A backend was used before the part it needs was configured.

    The message names the missing part and the call that supplies it. Subclasses
    event_sourcery's ``NoProviderConfigured`` so existing ``except`` clauses keep working.
    """
