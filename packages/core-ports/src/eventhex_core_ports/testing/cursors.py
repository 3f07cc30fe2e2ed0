"""Cursors contract: projection checkpoints (event_sourcery's ``CursorsDao``)."""

import pytest
from event_sourcery import StreamId
from event_sourcery.read_model import CursorsDao

from eventhex_core_ports.testing._helpers import new_stream

__all__ = ["CursorsContract"]


class CursorsContract:
    """Tests every ``CursorsDao`` must pass.

    Fixtures:
        cursors: A fresh cursors store of the adapter under test.

    A cursor is the last version of one stream (its uuid and category) that one projection has
    processed. ``put_at`` starts tracking (or moves the cursor), ``move_to`` jumps, and
    ``increment`` moves by exactly one version, raising ``StreamNotTracked``, ``BehindStream``
    or ``AheadOfStream`` (with the current version) otherwise, without moving the cursor.
    """

    @pytest.fixture
    def cursors(self) -> CursorsDao:
        raise NotImplementedError("provide `cursors`: an empty CursorsDao")

    def test_an_untracked_stream_cannot_be_incremented(self, cursors: CursorsDao) -> None:
        with pytest.raises(CursorsDao.StreamNotTracked):
            cursors.increment("projection", new_stream("c"), 1)

    def test_increment_moves_one_version_at_a_time(self, cursors: CursorsDao) -> None:
        stream = new_stream("c")
        cursors.put_at("projection", stream, 1)
        cursors.increment("projection", stream, 2)
        cursors.increment("projection", stream, 3)

        with pytest.raises(CursorsDao.AheadOfStream) as ahead:
            cursors.increment("projection", stream, 3)
        assert ahead.value.current_version == 3
        with pytest.raises(CursorsDao.BehindStream) as behind:
            cursors.increment("projection", stream, 5)
        assert behind.value.current_version == 3
        cursors.increment("projection", stream, 4)

    def test_an_older_version_is_ahead_of_the_stream(self, cursors: CursorsDao) -> None:
        stream = new_stream("c")
        cursors.put_at("projection", stream, 5)
        with pytest.raises(CursorsDao.AheadOfStream) as ahead:
            cursors.increment("projection", stream, 2)
        assert ahead.value.current_version == 5

    def test_put_at_and_move_to_set_the_cursor(self, cursors: CursorsDao) -> None:
        stream, other = new_stream("c"), new_stream("c")
        cursors.put_at("projection", stream, 1)
        cursors.put_at("projection", stream, 7)
        cursors.increment("projection", stream, 8)
        cursors.move_to("projection", stream, 2)
        cursors.increment("projection", stream, 3)
        cursors.move_to("projection", other, 4)  # tracks a stream it did not track
        cursors.increment("projection", other, 5)

    def test_projections_keep_their_own_cursors(self, cursors: CursorsDao) -> None:
        stream = new_stream("c")
        cursors.put_at("projection", stream, 3)
        with pytest.raises(CursorsDao.StreamNotTracked):
            cursors.increment("other-projection", stream, 1)
        cursors.put_at("other-projection", stream, 0)
        cursors.increment("other-projection", stream, 1)
        cursors.increment("projection", stream, 4)

    def test_the_same_uuid_in_another_category_is_another_stream(self, cursors: CursorsDao) -> None:
        stream = new_stream("c")
        cursors.put_at("projection", stream, 6)
        with pytest.raises(CursorsDao.StreamNotTracked):
            cursors.increment("projection", StreamId(uuid=stream, category="d"), 7)

    def test_a_named_stream_is_its_uuid(self, cursors: CursorsDao) -> None:
        named = new_stream("c", named=True)
        cursors.put_at("projection", named, 1)
        cursors.increment("projection", StreamId(uuid=named, category="c"), 2)
        with pytest.raises(CursorsDao.AheadOfStream):
            cursors.increment("projection", named, 2)
