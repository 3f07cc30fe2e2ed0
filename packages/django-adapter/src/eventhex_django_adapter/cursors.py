"""``DjangoCursorsDao``: projection checkpoints (event_sourcery's ``CursorsDao``) in the database.

A cursor is the last version of one stream that one projection has processed. ``increment`` is a
single conditional ``UPDATE``, so two processes projecting the same event cannot both advance it.
"""

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from event_sourcery import StreamId
from event_sourcery.read_model import CursorsDao

from eventhex_django_adapter.models import ProjectionCursor

__all__ = ["DjangoCursorsDao"]


class DjangoCursorsDao(CursorsDao):
    """Cursors in ``eventhex_projectioncursor``, one per (projection name, stream).

    Args:
        database: The ``settings.DATABASES`` alias holding the tables.
    """

    def __init__(self, database: str = "default") -> None:
        self._database = database

    def increment(self, name: str, stream_id: StreamId, version: int) -> None:
        """Move the cursor from ``version - 1`` to ``version``.

        Raises:
            StreamNotTracked: The projection has no cursor for this stream yet.
            BehindStream: The cursor is more than one version behind ``version``.
            AheadOfStream: The cursor is already at ``version`` or beyond.
        """
        cursor = self._cursor(name, stream_id)
        if cursor.filter(version=version - 1).update(version=version):
            return
        current = cursor.values_list("version", flat=True).first()
        if current is None:
            raise self.StreamNotTracked
        if version > current + 1:
            raise self.BehindStream(current)
        raise self.AheadOfStream(current)

    def put_at(self, name: str, stream_id: StreamId, version: int) -> None:
        """Start tracking the stream at ``version`` (or move an existing cursor there)."""
        with transaction.atomic(using=self._database):
            if self._cursor(name, stream_id).update(version=version):
                return
            try:
                with transaction.atomic(using=self._database):
                    ProjectionCursor.objects.using(self._database).create(
                        name=name,
                        stream_uuid=stream_id,
                        category=stream_id.category or "",
                        version=version,
                    )
            except IntegrityError:  # created concurrently: the later write wins
                self._cursor(name, stream_id).update(version=version)

    def move_to(self, name: str, stream_id: StreamId, version: int) -> None:
        """Set the cursor to ``version``, tracking the stream if it was not tracked."""
        self.put_at(name, stream_id, version)

    def _cursor(self, name: str, stream_id: StreamId) -> QuerySet[ProjectionCursor]:
        return ProjectionCursor.objects.using(self._database).filter(
            name=name, stream_uuid=stream_id, category=stream_id.category or ""
        )
