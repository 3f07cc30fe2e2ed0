"""One benchmark measurement in its own process: ``python -m benchmarks.worker SPEC_JSON``.

SPEC keys: ``impl`` (``eventhex``, ``upstream`` or ``floor``), ``db`` (``postgres`` or ``sqlite``),
``target`` (libpq URI or SQLite path of a fresh database), ``scenario``, ``n``; for profiles
``profile``, ``sort``, ``top`` and ``dump``. Prints one JSON object on the last line of standard
output.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Set Django up for the spec's contender, run the scenario, return its measurements."""
    import warnings

    from benchmarks import _django

    if spec["impl"] == "floor":
        from benchmarks.floor import FLOORS

        return FLOORS[spec["scenario"]](spec["target"], spec["n"])

    # python-event-sourcery 0.6.1 stores naive datetimes and Django warns on every row; the
    # warnings would cost it time writing to stderr, which is not what we measure.
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="DateTimeField")

    _django.setup(spec["impl"], spec["db"], spec["target"])
    from benchmarks.scenarios import SCENARIOS

    backend = _django.backend(spec["impl"], outbox=spec["scenario"].startswith("outbox_"))
    if spec["scenario"].startswith("latency_"):
        return _latency(backend, spec)
    if spec["scenario"] == "subscriptions":
        from benchmarks import latency

        return latency.subscriptions(backend, spec)
    if not spec.get("profile"):
        return SCENARIOS[spec["scenario"]](backend, spec["n"])
    import cProfile
    import io
    import pstats

    from benchmarks import scenarios

    scenarios.PROFILER = cProfile.Profile()
    result = SCENARIOS[spec["scenario"]](backend, spec["n"])
    text = io.StringIO()
    stats = pstats.Stats(scenarios.PROFILER, stream=text)
    stats.strip_dirs().sort_stats(spec.get("sort", "cumulative")).print_stats(spec.get("top", 30))
    if spec.get("dump"):
        stats.dump_stats(spec["dump"])
    return result | {"profile": text.getvalue()}


def _latency(backend: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Live latency: eventhex on PostgreSQL through ``benchmarks/latency.py``,
    python-event-sourcery through the same method in ``scenarios.latency``."""
    from benchmarks import latency, scenarios

    mode = spec["scenario"].removeprefix("latency_")
    if spec["impl"] == "eventhex" and spec["db"] == "postgres":
        row = latency.live_latency(backend, spec["target"], spec["n"], mode, latency.RATE)
        result = scenarios.latency_result([], spec["n"])
        result.update(
            value=row["p50"],
            p95=row["p95"],
            p99=row["p99"],
            max=row["max"],
            received=row["received"],
            source="benchmarks/latency.py",
        )
        return result
    return scenarios.latency(backend, spec, mode) | {"source": "benchmarks/scenarios.py"}


def main() -> None:
    spec = json.loads(sys.argv[1])
    result = run(spec)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
