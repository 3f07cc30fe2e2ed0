"""The registry of benchmark groups: ``python -m benchmarks GROUP`` runs any one of them, and
``all`` runs those marked ``in_all`` in this order, in each mode the group runs in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import (
    admin,
    event_names,
    hot_streams,
    latency,
    profiling,
    projection_shards,
    projections,
    relay,
    replicas,
    upcasting,
    writers,
)
from benchmarks._bench import Bench, Row
from benchmarks.comparisons import comparison

BOTH = ("headline", "cpu")

DEEP = ("outbox_deep", 5000, None)
"""Deep streams (issue 32): 5,000 entries on 50 streams, ``Outbox.run(limit=100)`` per unit."""


@dataclass(frozen=True)
class Group:
    """A named set of measurements.

    Attributes:
        name: The command-line name; results go to ``out/<mode>/<name>.jsonl``.
        summary: One line for ``--help``.
        run: Measures and returns the rows.
        in_all: Whether ``all`` runs it.
        modes: The modes it runs in (``benchmarks._bench.MODES``).
    """

    name: str
    summary: str
    run: Callable[[Bench], list[Row]]
    in_all: bool = True
    modes: tuple[str, ...] = BOTH


_GROUPS = (
    Group(
        "append",
        "appends of 1 and 10 events to new streams, versioned appends to one stream",
        comparison(
            [
                ("append_single", 1000, None),
                ("append_batch10", 200, None),
                ("append_versioned", 1000, None),
            ]
        ),
    ),
    Group("load", "loading a 1,000-event stream", comparison([("load_1000", 1000, None)])),
    Group(
        "catchup",
        "a subscription catching up on 20,000 events",
        comparison([("catchup", 20000, None)]),
    ),
    Group(
        "million",
        "catch-up over 1,000,000 events: rate and memory (eventhex and the floor)",
        comparison(
            [("catchup_1m", 1_000_000, 2)], contenders=("eventhex", "floor"), dbs=("postgres",)
        ),
        modes=("headline",),
    ),
    Group(
        "outbox",
        "draining 1,000 entries with Outbox.run; 10,000 on one, ten and 2,000 streams; "
        "5,000 on 50 deep streams, 100 per atomic()",
        lambda bench: comparison([("outbox_drain", 1000, None), DEEP])(bench)
        + hot_streams.outbox_rows(bench),
    ),
    Group(
        "deep",
        "Outbox.run(limit=100) per atomic() over 50 streams of 100 entries (issue 32)",
        comparison([DEEP], contenders=("eventhex", "floor"), dbs=("postgres",)),
        in_all=False,
    ),
    Group(
        "relay",
        "draining 30,000 entries with eventhex-relay processes; 10,000 on one, ten and 2,000 "
        "streams (no-op, Redis)",
        lambda bench: relay.run(bench) + hot_streams.relay_rows(bench),
    ),
    Group(
        "writers",
        "1, 4 and 16 concurrent writer processes, with and without notifications",
        writers.run,
    ),
    Group(
        "latency",
        "live delivery latency of single appends (PostgreSQL)",
        comparison(
            [("latency_iter", 200, 1), ("latency_batch", 200, 1)],
            contenders=("eventhex", "upstream"),
            dbs=("postgres",),
        ),
    ),
    Group(
        "profile",
        "cProfile of eventhex beside the floor and eventsourcing, by component",
        profiling.run,
        modes=("headline",),
    ),
    Group(
        "projections",
        "the projection runner: apply rate against catch-up, a 100k rebuild, failover p50/p95",
        projections.run,
        in_all=False,
        modes=("cpu",),
    ),
    Group(
        "admin",
        "the admin's pages at 1,000,000 events: lists, searches, last page, projections",
        admin.run,
        in_all=False,
        modes=("headline",),
    ),
    Group(
        "shards",
        "one slow projection (2 ms per event) in 1 and 4 shards on 1, 2 and 4 runner "
        "processes: throughput ratio, share per runner, takeover p50/p95 (issue 30)",
        projection_shards.run,
        in_all=False,
    ),
    Group(
        "hot",
        "one stream against ten and 2,000: every publisher and Outbox.run (issue 15)",
        hot_streams.run,
        in_all=False,
    ),
    Group(
        "names",
        "the distinct stored event names of 1,000,000 events: loose index scan and DISTINCT",
        event_names.run,
        in_all=False,
        modes=("headline",),
    ),
    Group(
        "replicas",
        "eight subscribers on the primary against on a streaming replica: page reads per "
        "server, append rate beside them, live latency (issue 29)",
        replicas.run,
        in_all=False,
        modes=("headline",),
    ),
    Group(
        "upcasting",
        "catch-up of 20,000 events with no upcaster, unrelated ones, and one applied to each "
        "(issue 31)",
        upcasting.run,
        in_all=False,
        modes=("headline",),
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
