"""Outbox relay drain throughput on PostgreSQL.

Run from the repository root: ``hatch run python benchmarks/relay.py [--messages N]``.

It starts its own PostgreSQL (see ``_postgres.py``) and ``redis-server``, fills the outbox with N
entries spread over streams (COPY, then ANALYZE), and times relays draining it through the
Django outbox source, each relay in its own process, all released at once:

- one relay to the no-op publisher (``null:``): the cost of claiming and acknowledging;
- one relay to Redis Streams;
- two relays to the no-op publisher, against one.

Throughput is N divided by the time from the earliest relay start to the latest relay end.
Targets (issue 5): >= 10,000 msg/s no-op, >= 5,000 msg/s Redis, two relays >= 1.6x one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from eventhex_devtools.brokers import redis_server

from benchmarks._postgres import RunningPostgres

COLUMNS = (
    "event_uuid, event_name, stream_uuid, stream_name, stream_category, tenant_id, version, "
    "position, created_at, data, context, attempts, max_attempts, dead, last_error, enqueued_at"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    from benchmarks._django import setup

    setup("eventhex", "postgres", dsn, migrate=False)
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
        self.port = _free_port()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    load_before = f"{os.getloadavg()[0]:.2f}"

    from benchmarks._django import setup

    with RunningPostgres() as server:
        database = server.create_database("relay")
        dsn = server.dsn(database)
        setup("eventhex", "postgres", dsn)  # migrate once, here
        redis = Redis()
        try:
            rows = []
            for name, url, relays in (
                ("one relay, no-op publisher", "null:", 1),
                ("one relay, Redis Streams", f"redis://127.0.0.1:{redis.port}/0?stream=bench", 1),
                ("two relays, no-op publisher", "null:", 2),
            ):
                fill(dsn, args.messages, args.streams)
                rate, published, cores = drain(dsn, url, relays, args.batch)
                assert published == args.messages, (published, args.messages)
                rows.append((name, rate))
                print(
                    f"{name:<30} {rate:>10,.0f} msg/s  ({published:,} messages, "
                    f"relay CPU {cores:.2f} cores)",
                    flush=True,
                )
        finally:
            redis.close()
    one, two = rows[0][1], rows[2][1]
    print(f"{'two relays / one relay':<30} {two / one:>10.2f}x")
    print(f"(PostgreSQL {server.version}, batch {args.batch}, {args.streams:,} streams)")
    print(f"(load average before/after: {load_before} / {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
