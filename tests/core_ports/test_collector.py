"""Reads pause the cyclic garbage collector only while they build a page, across threads."""

import gc
import threading
from collections.abc import Iterator

import pytest

from eventhex_core_ports._internal.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_enabled_after() -> Iterator[None]:
    yield
    gc.enable()


def test_the_collector_is_paused_inside_and_enabled_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_application_disabled_stays_disabled() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_error_inside_still_resumes_the_collector() -> None:
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("boom")
    assert gc.isenabled()


def test_the_collector_resumes_when_the_last_of_overlapping_readers_leaves() -> None:
    """Thread A pauses, thread B pauses, A leaves (still paused for B), B leaves (resumed)."""
    b_inside, a_left, seen = threading.Event(), threading.Event(), {}

    def reader_b() -> None:
        with collector_paused():
            b_inside.set()
            assert a_left.wait(5)
            seen["after A left"] = gc.isenabled()
        seen["after B left"] = gc.isenabled()

    with collector_paused():
        thread = threading.Thread(target=reader_b)
        thread.start()
        assert b_inside.wait(5)
    a_left.set()
    thread.join(5)
    assert seen == {"after A left": False, "after B left": True}
    assert gc.isenabled()


def test_many_threads_pausing_at_once_leave_the_collector_enabled() -> None:
    start = threading.Barrier(8)

    def reader() -> None:
        start.wait(5)
        for _ in range(2_000):
            with collector_paused():
                [[i] for i in range(5)]

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert gc.isenabled()


def test_collections_due_during_the_pause_run_after_it() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with collector_paused():
            kept = [[i] for i in range(10 * gc.get_threshold()[0])]
            assert collections == []
        [[i] for i in range(10)]  # the next allocations start the collection that was due
    finally:
        gc.callbacks.remove(count)
    assert kept
    assert collections
