"""Projection checkpoint port (event_sourcery's ``CursorsDao``).

``increment`` moves a projection's cursor for a stream by exactly one version and raises
``StreamNotTracked``, ``BehindStream`` or ``AheadOfStream`` otherwise; ``put_at`` starts tracking;
``move_to`` jumps to a version.
"""

from event_sourcery.read_model import CursorsDao

__all__ = ["CursorsDao"]
