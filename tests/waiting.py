"""Waiting in tests for something another thread or process does."""

import time
from collections.abc import Callable

import pytest


def wait_for(
    condition: Callable[[], object], what: str = "the condition", seconds: float = 60.0
) -> None:
    """Poll ``condition`` until it is true; fail the test naming ``what`` after ``seconds``.

    The deadline only stops a hung test: it asserts no speed (timings belong in benchmarks/).
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(0.01)
