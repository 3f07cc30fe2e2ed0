"""The registry of benchmark groups: ``python -m benchmarks GROUP`` runs any one of them, and
``all`` runs those marked ``in_all`` in this order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import hot_streams, latency, memory, profiling, projections, relay
from benchmarks._bench import Bench, Row
from benchmarks.comparisons import comparison


@dataclass(frozen=True)
class Group:
    """A named set of measurements.

    Attributes:
        name: The command-line name; results go to ``out/<name>.jsonl``.
        summary: One line for ``--help``.
        run: Measures and returns the rows.
        in_all: Whether ``all`` runs it.
    """

    name: str
    summary: str
    run: Callable[[Bench], list[Row]]
    in_all: bool = True


_GROUPS = (
    Group(
        "append",
        "appends of 1 and 10 events to new streams, versioned appends to one stream",
        comparison(
            [
                ("append_single", 300, None),
                ("append_batch10", 60, None),
                ("append_versioned", 300, None),
            ]
        ),
    ),
    Group("load", "loading a 1,000-event stream", comparison([("load_1000", 1000, None)])),
    Group(
        "catchup",
        "a subscription catching up on 20,000 events",
        comparison([("catchup", 20000, 2)]),
    ),
    Group(
        "outbox",
        "draining 1,000 entries with Outbox.run; 10,000 on one, ten and 2,000 streams",
        lambda bench: comparison([("outbox_drain", 1000, None)])(bench)
        + hot_streams.outbox_rows(bench),
    ),
    Group(
        "relay",
        "draining 30,000 entries with eventhex-relay processes; 10,000 on one, ten and 2,000 "
        "streams (no-op, Redis)",
        lambda bench: relay.run(bench) + hot_streams.relay_rows(bench),
    ),
    Group(
        "latency",
        "live delivery latency of single appends (PostgreSQL)",
        comparison([("latency_iter", 200, 1), ("latency_batch", 200, 1)], dbs=("postgres",)),
    ),
    Group(
        "floor",
        "the psycopg floor alone: executemany and COPY",
        comparison([("floor_executemany", 5000, None), ("floor_copy", 20000, None)], ("floor",)),
    ),
    Group("memory", "eventhex's catch-up memory at 20,000 and 100,000 events", memory.run),
    Group("profile", "cProfile of eventhex's append, load and catch-up", profiling.run),
    Group(
        "projections",
        "the projection runner: apply rate against catch-up, a 100k rebuild, failover p50/p95",
        projections.run,
        in_all=False,
    ),
    Group(
        "hot",
        "one stream against ten and 2,000: every publisher and Outbox.run (issue 15)",
        hot_streams.run,
        in_all=False,
    ),
    Group(
        "subscriptions",
        "eventhex's live latency and catch-up per selection, as one table",
        latency.run,
        in_all=False,
    ),
)

GROUPS: dict[str, Group] = {group.name: group for group in _GROUPS}
"""Every group by name, in the order ``all`` runs them."""
