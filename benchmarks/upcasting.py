"""Catch-up with and without upcasting (``hatch run bench:run upcasting``, issue 31).

20,000 version-1 events are appended once; then a subscription reads them all with
``build_batch(500)`` from the start, three ways, interleaved in each repetition:

- ``none``: no rename or upcaster registered (the registry is empty): the decode path every
  user without schema evolution runs;
- ``unrelated``: a registry holding a rename and upcasters for other names, which these events
  never meet (registering some must cost the rest nothing);
- ``one upcaster``: the events are renamed to a version-2 class and go through one upcaster
  each (a field renamed, one added);
- ``stored at version 2``: 20,000 more events, of a class at ``__event_version__ = 2``
  (appended at that version, so read without upcasting), in another category: the version their
  context carries must not make them slower to read than version-1 events.

The issue asks for ``one upcaster`` >= 0.7 x ``none``.
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._bench import Bench, Row, standalone

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "upcasting.json"
EVENTS = 20_000
REPS = 5
OLD, NEW = "bench.upcasting.OrderCreated", "bench.upcasting.OrderPlaced"


def _setup(dsn: str) -> None:
    import os

    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks._projection_settings"
    os.environ["EVENTHEX_BENCH_PROJECTIONS_DSN"] = dsn
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _registries() -> dict[str, Any]:
    from eventhex_core_ports.upcasting import Upcasters

    unrelated = Upcasters()
    unrelated.rename("bench.upcasting.Elsewhere", "bench.upcasting.Other")
    unrelated.add_upcaster("bench.upcasting.Other", 1, lambda data: data)
    one = Upcasters()
    one.rename(OLD, NEW)
    one.add_upcaster(NEW, 1, lambda data: {"amount": data.pop("total"), "currency": "EUR", **data})
    return {"none": Upcasters(), "unrelated": unrelated, "one upcaster": one}


def measure(dsn: str, events: int) -> dict[str, Any]:
    """Append ``events`` events to the empty database ``dsn``; time each catch-up REPS times."""
    _setup(dsn)
    from django.db import transaction
    from event_sourcery import Event, StreamId

    from eventhex_core_ports.upcasting import Upcasters
    from eventhex_django_adapter import DjangoBackend

    class OrderCreated(Event):
        __event_name__ = OLD
        order_id: str
        total: int
        note: str

    class OrderPlaced(Event):
        __event_name__ = NEW
        __event_version__ = 2
        order_id: str
        amount: int
        currency: str
        note: str

    class OrderVersioned(Event):
        __event_name__ = "bench.upcasting.OrderVersioned"
        __event_version__ = 2
        order_id: str
        total: int
        note: str

    backend = DjangoBackend().configure()
    for event_class, category in ((OrderCreated, "order"), (OrderVersioned, "versioned")):
        for first in range(0, events, 100):
            stream = StreamId(name=f"{category}-{first}", category=category)
            batch = [
                event_class(order_id=f"o-{n}", total=n, note="a payload of some ordinary length")
                for n in range(first, min(events, first + 100))
            ]
            with transaction.atomic():
                backend.event_store.append(*batch, stream_id=stream)

    registries = _registries()
    rates: dict[str, list[float]] = {name: [] for name in registries}
    registries["stored at version 2"] = registries["none"]
    rates["stored at version 2"] = []
    expected = {
        "none": OrderCreated,
        "unrelated": OrderCreated,
        "one upcaster": OrderPlaced,
        "stored at version 2": OrderVersioned,
    }
    for _ in range(REPS + 1):  # the first round warms caches and is not kept
        for name, registry in registries.items():
            backend[Upcasters] = registry
            category = "versioned" if name == "stored at version 2" else "order"
            started = time.perf_counter()
            read, last = 0, None
            start = backend.subscriber.start_from(0).to_category(category)
            for batch in start.build_batch(500, 0.2):
                if not batch:
                    break
                read += len(batch)
                last = batch[-1].wrapped_event.event
                if read >= events:
                    break
            elapsed = time.perf_counter() - started
            assert read == events, (name, read)
            assert isinstance(last, expected[name]), (name, last)
            rates[name].append(events / elapsed)
    rates = {name: values[1:] for name, values in rates.items()}
    medians = {name: round(statistics.median(values)) for name, values in rates.items()}
    ratios = [one / none for one, none in zip(rates["one upcaster"], rates["none"], strict=True)]
    unrelated = [u / none for u, none in zip(rates["unrelated"], rates["none"], strict=True)]
    versioned = [
        v / none for v, none in zip(rates["stored at version 2"], rates["none"], strict=True)
    ]
    return {
        "events": events,
        "reps": REPS,
        "events_per_s": medians,
        "one_upcaster_over_none": round(statistics.median(ratios), 2),
        "one_upcaster_over_none_range": [round(min(ratios), 2), round(max(ratios), 2)],
        "unrelated_over_none": round(statistics.median(unrelated), 2),
        "unrelated_over_none_range": [round(min(unrelated), 2), round(max(unrelated), 2)],
        "version_2_over_none": round(statistics.median(versioned), 2),
        "version_2_over_none_range": [round(min(versioned), 2), round(max(versioned), 2)],
    }


def run(bench: Bench) -> list[Row]:
    """The ``upcasting`` group: :func:`measure` in its own process on a fresh database."""
    with bench.postgres_database("upcasting") as dsn:
        command = [sys.executable, "-m", "benchmarks.upcasting", "--dsn", dsn]
        command += ["--events", str(bench.size(EVENTS))]
        subprocess.run(command, cwd=ROOT, check=True)
    result = json.loads(OUT.read_text())
    rows: list[Row] = [
        {
            "kind": "section",
            "title": "Catch-up with upcasting (benchmarks/upcasting.py)",
            "text": json.dumps(result, indent=2),
        }
    ]
    for name, value in result["events_per_s"].items():
        rows.append(
            {
                "impl": "eventhex",
                "db": "postgres",
                "n": result["events"],
                "rep": 0,
                "scenario": f"catchup_upcasting_{name.replace(' ', '_')}",
                "value": value,
                "unit": "events/s",
                "source": "upcasting.py",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on ``--dsn``, or on a PostgreSQL of its own; exit status."""
    print(json.dumps(standalone(argv, "upcasting", measure, EVENTS, OUT), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
