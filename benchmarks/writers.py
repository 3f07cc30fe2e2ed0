"""Concurrent writers: 1, 4 and 16 processes appending at once, with and without notifications.

Every writer is its own process (Django set up for eventhex, a psycopg connection for the
floor, an ``Application`` for eventsourcing 9.5.6) that appends one event to a new stream per
unit of work of the run's mode, for a fixed time after a common start signal. The rate is all
writers' events divided by the time from the signal to the last writer's end.

"Without notifications" is eventhex configured with ``DjangoConfig(notifications=False)`` and the
floor without its notify trigger. eventsourcing always ``NOTIFY``s inside its insert, so it runs
with notifications only.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from benchmarks import _django
from benchmarks._bench import MODES, Bench, Row

WRITERS = (1, 4, 16)
SECONDS = 4.0
VARIANTS = (
    ("eventhex", True),
    ("eventhex", False),
    ("floor", True),
    ("floor", False),
    ("eventsourcing", True),
)
"""(contender, notifications on)."""


def _prepare(impl: str, dsn: str, mode: str, notify: bool) -> None:
    """Create the contender's tables in a fresh database (the floor's without its notify trigger
    if asked)."""
    if impl == "eventhex":
        _django.setup("eventhex", "postgres", dsn, mode)
    elif impl == "floor":
        from benchmarks import floor

        with floor.connect(dsn) as connection:
            if not notify:
                connection.execute(floor.DROP_NOTIFY)
    else:
        from benchmarks import peer

        peer.application(dsn).close()


def _appender(impl: str, dsn: str, mode: str, w: int, notify: bool) -> Any:
    """A function that appends one event to a new stream as one unit of work."""
    from benchmarks._events import new_stream, written

    if impl == "eventhex":
        _django.setup("eventhex", "postgres", dsn, mode, migrate=False)
        backend = _django.backend("eventhex", notifications=notify)
        store, unit = backend.event_store, _django.unit(mode)

        def append() -> None:
            with unit():
                store.append(written(w), stream_id=new_stream(f"w{w}"))

        return append
    if impl == "floor":
        from benchmarks import floor

        connection = floor.connect(dsn, schema=False)
        work = floor.unit(connection, MODES[mode].atomic)

        def append() -> None:
            with work():
                args = floor.append_args(new_stream(f"w{w}"), [written(w)])
                connection.execute(floor.APPEND, args)

        return append
    from benchmarks import peer

    app = peer.application(dsn, create_table=False)
    return lambda: app.save(peer.new_ledger(1, w=w))


def _write(
    impl: str,
    dsn: str,
    mode: str,
    w: int,
    notify: bool,
    seconds: float,
    ready: Any,
    start: Any,
    results: Any,
) -> None:
    append = _appender(impl, dsn, mode, w, notify)
    append()  # warm-up: connect, prepare
    ready.release()
    while start.value == 0.0:
        time.sleep(0.001)
    while time.time() < start.value:
        time.sleep(0.0005)
    deadline, count = start.value + seconds, 0
    while time.time() < deadline:
        append()
        count += 1
    results.put((count, time.time()))


def _collect(results: Any, spans: list[tuple[int, float]]) -> bool:
    import queue

    try:
        spans.append(results.get(timeout=0.5))
    except queue.Empty:
        return False
    return True


def _wait(step: Any, processes: list[Any], what: str, limit: float = 600) -> None:
    """Repeat ``step`` until it succeeds; fail at once if a writer died."""
    deadline = time.monotonic() + limit
    while not step():
        if any(p.exitcode not in (None, 0) for p in processes):
            raise RuntimeError(f"a writer failed while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")


def measure(bench: Bench, impl: str, notify: bool, writers: int, seconds: float) -> Row:
    """One measurement: ``writers`` processes of ``impl`` on a fresh database."""
    mode = bench.options.mode.name
    context = multiprocessing.get_context("spawn")
    with bench.postgres_database("writers") as dsn:
        preparer = context.Process(target=_prepare, args=(impl, dsn, mode, notify))
        preparer.start()
        preparer.join()
        if preparer.exitcode != 0:
            raise RuntimeError(f"preparing the {impl} database failed ({preparer.exitcode})")
        ready, start, results = context.Semaphore(0), context.Value("d", 0.0), context.Queue()
        processes = [
            context.Process(
                target=_write, args=(impl, dsn, mode, w, notify, seconds, ready, start, results)
            )
            for w in range(writers)
        ]
        for process in processes:
            process.start()
        try:
            for _ in processes:
                _wait(lambda: ready.acquire(timeout=0.5), processes, f"{impl} writers to start")
            start.value = began = time.time() + 0.5
            spans: list[tuple[int, float]] = []
            for _ in processes:
                _wait(lambda: _collect(results, spans), processes, f"{impl} writers to end")
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
    events = sum(count for count, _ in spans)
    elapsed = max(end for _, end in spans) - began
    return {
        "impl": impl,
        "db": "postgres",
        "mode": mode,
        "scenario": f"writers_{writers}" + ("" if notify else "_quiet"),
        "n": writers,
        "writers": writers,
        "notify": notify,
        "value": events / elapsed,
        "unit": "events/s",
        "events": events,
        "seconds": elapsed,
    }


def run(bench: Bench) -> list[Row]:
    """Every variant at 1, 4 and 16 writers, one after the other (so that a repetition's
    scaling ratio compares measurements taken minutes apart at most), rotating the variants'
    order on every repetition."""
    seconds = max(1.0, SECONDS * bench.options.scale)
    rows: list[Row] = []
    for rep in range(bench.options.reps):
        shift = rep % len(VARIANTS)
        for impl, notify in VARIANTS[shift:] + VARIANTS[:shift]:
            for writers in WRITERS:
                try:
                    row = measure(bench, impl, notify, writers, seconds) | {"rep": rep}
                except Exception as error:
                    row = {"impl": impl, "db": "postgres", "scenario": f"writers_{writers}",
                           "n": writers, "rep": rep, "error": repr(error)}  # fmt: skip
                rows.append(row)
                shown = f"{row['value']:,.0f} events/s" if "value" in row else "FAILED"
                quiet = "" if notify else ", no notify"
                print(f"  {writers:>2} writers {impl}{quiet} rep {rep}: {shown}", flush=True)
    return rows
