"""Exponential backoff with jitter."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays that double per attempt up to a cap, each drawn from its upper half.

    ``delay(n)`` for the n-th consecutive failure is uniform in ``[d / 2, d]`` with
    ``d = min(maximum, base * 2 ** (n - 1))``: the spread keeps relays that failed together from
    retrying together, and the lower bound keeps the growth.

    Args:
        base: Seconds before the first retry (upper bound).
        maximum: Upper bound of any delay, in seconds.
        rng: Random source; tests pass a seeded one.
    """

    def __init__(self, base: float, maximum: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.maximum = maximum
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """The largest delay after ``attempt`` consecutive failures (attempt >= 1)."""
        return min(self.maximum, self.base * 2.0 ** max(attempt - 1, 0))

    def delay(self, attempt: int) -> float:
        """A jittered delay after ``attempt`` consecutive failures, in seconds."""
        ceiling = self.ceiling(attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)
