"""In-memory ``CursorsDao``: projection checkpoints per (projection, stream)."""

from event_sourcery import StreamId
from event_sourcery.read_model import CursorsDao

__all__ = ["InMemoryCursorsDao"]


class InMemoryCursorsDao(CursorsDao):
    """Stores the last projected version of each stream for each projection name."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, StreamId], int] = {}

    def increment(self, name: str, stream_id: StreamId, version: int) -> None:
        key = (name, stream_id)
        if key not in self._versions:
            raise self.StreamNotTracked
        current = self._versions[key]
        if version > current + 1:
            raise self.BehindStream(current)
        if version <= current:
            raise self.AheadOfStream(current)
        self._versions[key] = version

    def put_at(self, name: str, stream_id: StreamId, version: int) -> None:
        self._versions[(name, stream_id)] = version

    def move_to(self, name: str, stream_id: StreamId, version: int) -> None:
        self._versions[(name, stream_id)] = version
