"""Exact datetime round trips under ``USE_TZ = True`` and ``False``.

event_sourcery stamps events with naive UTC datetimes. They are stored as that instant (aware
UTC when ``USE_TZ`` is on, the same naive value when it is off) and always read back as naive UTC,
so a loaded event compares equal to the appended one. Aware datetimes are converted to UTC.
"""

from datetime import UTC, datetime

from django.conf import settings

__all__ = ["from_db", "to_db"]


def to_db(value: datetime) -> datetime:
    """The value to store for ``value`` under the current ``USE_TZ``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(tzinfo=UTC) if settings.USE_TZ else value


def from_db(value: datetime) -> datetime:
    """The naive UTC datetime for a value read from the database."""
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
