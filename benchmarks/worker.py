"""One benchmark measurement in its own process: ``python -m benchmarks.worker SPEC_JSON``.

SPEC keys: ``impl`` (``eventhex``, ``upstream``, ``floor`` or ``eventsourcing``), ``db``
(``postgres`` or ``sqlite``), ``target`` (libpq URI or SQLite path of a fresh database),
``mode`` (``headline`` or ``cpu``), ``scenario``, ``n``; for profiles ``profile`` and ``dump``.
Prints one JSON object on the last line of standard output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from benchmarks._bench import MODES


def _measure(spec: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """The call that measures ``spec``'s scenario for its contender (set up, not yet run)."""
    impl, scenario, n, target = spec["impl"], spec["scenario"], spec["n"], spec["target"]
    if impl == "floor":
        from benchmarks.floor import FLOORS

        atomic = MODES[spec["mode"]].atomic
        return lambda: FLOORS[scenario](target, n, atomic)
    if impl == "eventsourcing":
        from benchmarks import peer

        return lambda: peer.SCENARIOS[scenario](target, n)

    import warnings

    from benchmarks import _django

    # python-event-sourcery 0.6.1 stores naive datetimes and Django warns on every row; the
    # warnings would cost it time writing to stderr, which is not what we measure.
    warnings.filterwarnings("ignore", category=RuntimeWarning, message="DateTimeField")
    _django.setup(impl, spec["db"], target, spec["mode"])
    backend = _django.backend(impl, outbox=scenario.startswith("outbox_"))
    _django.watch_backend()
    if scenario.startswith("latency_"):
        from benchmarks._live import live_latency

        return lambda: live_latency(backend, spec, scenario.removeprefix("latency_"))
    if scenario == "subscriptions":
        from benchmarks import latency

        return lambda: latency.subscriptions(backend, spec)
    from benchmarks.scenarios import SCENARIOS

    unit = _django.unit(spec["mode"])
    return lambda: SCENARIOS[scenario](backend, n, unit)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the spec's scenario; with ``profile``, under cProfile (:mod:`benchmarks.profiling`)."""
    from benchmarks import _measured

    measure = _measure(spec)
    if not spec.get("profile"):
        return measure() | _measured.spent()
    import cProfile

    from benchmarks import profiling

    _measured.PROFILER = profiler = cProfile.Profile()  # only the measured part of the scenario
    result = measure()
    return result | _measured.spent() | profiling.summary(profiler, spec.get("dump"))


def main() -> None:
    spec = json.loads(sys.argv[1])
    result = run(spec)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
