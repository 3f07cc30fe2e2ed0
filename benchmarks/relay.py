"""Outbox relay drain throughput on PostgreSQL: the ``relay`` group.

It starts a ``redis-server``, fills the outbox of a fresh database with 30,000 entries spread
over 6,000 streams (COPY, then ANALYZE), and times relays draining it through the Django outbox
source, each relay in its own process, all released at once:

- one relay to the no-op publisher (``null:``): the cost of claiming and acknowledging;
- one relay to Redis Streams;
- two relays to the no-op publisher, against one.

Throughput is N divided by the time from the earliest relay start to the latest relay end. The
rows compare with upstream's ``Outbox.run`` (the ``outbox`` group) in the results table.
Targets (issue 5): >= 10,000 msg/s no-op, >= 5,000 msg/s Redis, two relays >= 1.6x one.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from eventhex_devtools.brokers import redis_server

from benchmarks import _django
from benchmarks._bench import Bench, Row

MESSAGES = 30_000
STREAMS = 6_000
BATCH = 1000

COLUMNS = (
    "event_uuid, event_name, stream_uuid, stream_name, stream_category, tenant_id, version, "
    "position, created_at, data, context, attempts, max_attempts, dead, last_error, enqueued_at"
)


def fill(dsn: str, messages: int, streams: int) -> None:
    """Write ``messages`` outbox entries, round-robin over ``streams`` streams."""
    stream_ids = [uuid.uuid4() for _ in range(streams)]
    now = datetime.now(UTC)
    with psycopg.connect(dsn, autocommit=True) as connection:
        with connection.cursor().copy(f"COPY eventhex_outboxentry ({COLUMNS}) FROM STDIN") as copy:
            for n in range(messages):
                copy.write_row(
                    (
                        uuid.uuid4(), "OrderPlaced", stream_ids[n % streams], None, "order", "",
                        n // streams + 1, n + 1, now, '{"total": 10}', "{}", 0, 3, False, "", now,
                    )
                )  # fmt: skip
        connection.execute("VACUUM ANALYZE eventhex_outboxentry")


def _relay(dsn: str, publisher_url: str, batch: int, go: Any, results: Any) -> None:
    _django.setup("eventhex", "postgres", dsn, migrate=False)
    from eventhex_django_adapter.relay_source import DjangoOutboxSource
    from eventhex_outbox_relay import Relay, publisher_from_url

    source = DjangoOutboxSource()
    relay = Relay(
        source,
        publisher_from_url(publisher_url),
        owner=f"bench-{uuid.uuid4().hex[:6]}",
        batch_size=batch,
        poll_interval=0.05,
    )
    source.stats()  # connect before the clock starts
    go.wait()
    started, cpu = time.monotonic(), time.process_time()
    report = relay.run(drain=True)
    results.put((started, time.monotonic(), report.published, time.process_time() - cpu))
    relay.publisher.close()
    source.close()


def _migrate(dsn: str) -> None:
    """Migrate the fresh database once, in a process of its own (Django is set up per process)."""
    migrator = multiprocessing.get_context("spawn").Process(
        target=_django.setup, args=("eventhex", "postgres", dsn)
    )
    migrator.start()
    migrator.join()
    if migrator.exitcode != 0:
        raise RuntimeError(f"migrating the relay benchmark's database failed ({migrator.exitcode})")


def drain(dsn: str, publisher_url: str, relays: int, batch: int) -> tuple[float, int, float]:
    """Run ``relays`` relay processes to completion.

    Returns:
        Messages per second, messages published, and the relays' CPU use in cores.
    """
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    workers = [
        context.Process(target=_relay, args=(dsn, publisher_url, batch, go, results))
        for _ in range(relays)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3)  # let every worker set Django up and connect
    go.set()
    spans = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    published = sum(span[2] for span in spans)
    seconds = max(span[1] for span in spans) - min(span[0] for span in spans)
    return published / seconds, published, sum(span[3] for span in spans) / seconds


class Redis:
    """A throw-away redis-server without persistence."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="eventhex-bench-redis-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.process = subprocess.Popen(
            [str(redis_server()), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.workdir, ignore_errors=True)


RUNS = (
    ("one relay, no-op publisher", "relay_noop", "null:", 1),
    ("one relay, Redis Streams", "relay_redis", "redis://127.0.0.1:{port}/0?stream=bench", 1),
    ("two relays, no-op publisher", "relay_two_noop", "null:", 2),
)


def run(bench: Bench) -> list[Row]:
    """The three drains as measurement rows, and their report as one text section."""
    messages, streams = bench.size(MESSAGES), bench.size(STREAMS)
    load_before = f"{os.getloadavg()[0]:.2f}"
    lines, rows, rates = [], [], []
    with bench.postgres_database("relay") as dsn:
        _migrate(dsn)
        redis = Redis()
        try:
            for name, scenario, url, relays in RUNS:
                fill(dsn, messages, streams)
                rate, published, cores = drain(dsn, url.format(port=redis.port), relays, BATCH)
                assert published == messages, (published, messages)
                rates.append(rate)
                rows.append(_row(scenario, messages, rate))
                lines.append(
                    f"{name:<30} {rate:>10,.0f} msg/s  ({published:,} messages, "
                    f"relay CPU {cores:.2f} cores)"
                )
                print("    " + lines[-1], flush=True)
        finally:
            redis.close()
    lines += [
        f"{'two relays / one relay':<30} {rates[2] / rates[0]:>10.2f}x",
        f"(PostgreSQL {bench.server.version()}, batch {BATCH}, {streams:,} streams)",
        f"(load average before/after: {load_before} / {os.getloadavg()[0]:.2f})",
    ]
    title = f"Outbox relay drain ({messages:,} messages over {streams:,} streams)"
    return [{"kind": "section", "title": title, "text": "\n".join(lines)}, *rows]


def _row(scenario: str, messages: int, rate: float) -> Row:
    return {
        "impl": "eventhex",
        "db": "postgres",
        "n": messages,
        "rep": 0,
        "scenario": scenario,
        "value": rate,
        "unit": "messages/s",
        "source": "relay.py",
    }
