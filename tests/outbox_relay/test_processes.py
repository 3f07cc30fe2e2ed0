"""Relays as real processes (``python -m eventhex_outbox_relay``) on the Django source and the
session's PostgreSQL: two at once, one killed with SIGKILL, one stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from django.db import connections

from eventhex_django_adapter.models import OutboxEntry
from eventhex_django_adapter.relay_source import DjangoOutboxSource
from tests.outbox_relay._servers import free_port
from tests.outbox_relay._webhook_sink import WebhookSink
from tests.outbox_relay.conftest import assert_delivered_in_stream_order
from tests.waiting import wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(databases=["postgres"], transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def relay_env(postgresql_dsn: str) -> dict[str, str]:
    """Environment of a relay subprocess using the ``django`` source on the test database."""
    database = connections["postgres"].settings_dict
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.outbox_relay.relay_settings",
        "RELAY_TEST_DB_NAME": database["NAME"],
        "RELAY_TEST_DB_HOST": database["HOST"],
        "RELAY_TEST_DB_PORT": str(database["PORT"]),
        "RELAY_TEST_DB_USER": database["USER"],
        "EVENTHEX_RELAY_SOURCE": "django",
        "EVENTHEX_RELAY_LOG_FORMAT": "text",
        "EVENTHEX_RELAY_POLL_INTERVAL": "0.05",
    }


@pytest.fixture
def spawn(relay_env: dict[str, str]) -> Iterator[Spawner]:
    spawner = Spawner(relay_env)
    yield spawner
    spawner.kill_all()


class Spawner:
    """Starts relay processes and makes sure none outlives its test."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[subprocess.Popen[str]] = []

    def __call__(self, *args: str, **env: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "eventhex_outbox_relay", *args],
            env={**self.env, **env},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            _, err = process.communicate()
            print(f"relay {process.args!r} exited {process.returncode}:\n{err[-3000:]}")


def finish(process: subprocess.Popen[str]) -> str:
    """Wait for a relay to exit successfully; returns its standard error."""
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return err


def enqueue(streams: int, per_stream: int, max_attempts: int = 3) -> dict[UUID, list[str]]:
    """Write outbox rows for ``streams`` streams, interleaved; each stream's uuids in order."""
    order: dict[UUID, list[str]] = {uuid4(): [] for _ in range(streams)}
    now = datetime.now(UTC)
    rows: list[OutboxEntry] = []
    for version in range(1, per_stream + 1):
        for stream, events in order.items():
            event = uuid4()
            events.append(str(event))
            rows.append(
                OutboxEntry(
                    event_uuid=event,
                    event_name="Tick",
                    stream_uuid=stream,
                    stream_category="clock",
                    version=version,
                    position=Decimal(len(rows) + 1),
                    created_at=now,
                    data={"n": version},
                    context={},
                    max_attempts=max_attempts,
                    enqueued_at=now,
                )
            )
    OutboxEntry.objects.using("postgres").bulk_create(rows)
    return order


def outbox() -> list[OutboxEntry]:
    return list(OutboxEntry.objects.using("postgres").all())


def test_two_relays_at_once_deliver_everything_exactly_once(
    spawn: Spawner, webhook: WebhookSink
) -> None:
    expected = enqueue(streams=100, per_stream=6)
    webhook.delay = 0.001
    webhook.hold_after = 10  # the first relay's 10th delivery waits: it holds its batch
    args = ("run", "--publisher", webhook.url, "--batch-size", "20")
    first = spawn(*args)
    wait_for(webhook.holding.is_set)
    webhook.hold_after = None
    second = spawn(*args)
    wait_for(lambda: len(webhook.delivered) > 20, seconds=60)  # the second one works meanwhile
    webhook.release.set()  # now both run at once
    wait_for(lambda: len(webhook.delivered) == 600, seconds=60)
    for relay in (first, second):
        relay.send_signal(signal.SIGTERM)
    reports = [finish(first), finish(second)]
    assert set(webhook.calls.values()) == {1}  # nobody got an event twice
    assert_delivered_in_stream_order(expected, webhook.delivered, exactly_once=True)
    assert all("published 0 " not in report for report in reports)
    assert outbox() == []


def test_a_relay_killed_mid_batch_loses_nothing(spawn: Spawner, webhook: WebhookSink) -> None:
    expected = enqueue(streams=60, per_stream=3)
    webhook.hold_after = 30  # the 30th delivery gets no answer until the relay is dead
    victim = spawn("run", "--publisher", webhook.url, "--batch-size", "20", "--lease-seconds", "1")
    wait_for(webhook.holding.is_set)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert any(entry.claimed_by for entry in outbox())  # it died holding a claim
    webhook.hold_after = None
    webhook.release.set()
    finish(spawn("drain", "--publisher", webhook.url, "--batch-size", "20"))
    assert_delivered_in_stream_order(expected, webhook.delivered, exactly_once=False)
    assert sum(webhook.calls.values()) - 180 <= 20  # re-sent at most the batch it held
    assert outbox() == []


@pytest.mark.parametrize("relays", [2, 4])
def test_relays_share_a_hot_stream_through_random_failures_and_a_kill(
    relays: int, spawn: Spawner, webhook: WebhookSink
) -> None:
    hot = enqueue(streams=1, per_stream=400, max_attempts=100)
    quiet = enqueue(streams=10, per_stream=4, max_attempts=100)
    expected = {**hot, **quiet}
    webhook.fail_rate = 0.05  # HTTP 500 for one post in twenty, at random
    webhook.hold_after = 60  # the victim's 60th delivery gets no answer: it is mid-batch
    args = ("run", "--publisher", webhook.url, "--batch-size", "50", "--lease-seconds", "2")
    quick = {"EVENTHEX_RELAY_BACKOFF_BASE": "0.02", "EVENTHEX_RELAY_BACKOFF_MAX": "0.1"}
    victim = spawn(*args, EVENTHEX_RELAY_OWNER="victim", **quick)
    wait_for(webhook.holding.is_set)
    held = {str(e.event_uuid) for e in outbox() if e.claimed_by == "victim"}
    assert held, "the victim holds a batch"
    webhook.hold_after = None
    others = [spawn(*args, EVENTHEX_RELAY_OWNER=f"relay-{n}", **quick) for n in range(relays - 1)]
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    webhook.release.set()
    everything = {event for events in expected.values() for event in events}
    wait_for(lambda: set(webhook.delivered_uuids()) >= everything)
    for relay in others:
        relay.send_signal(signal.SIGTERM)
    for relay in others:
        finish(relay)
    assert_delivered_in_stream_order(expected, webhook.delivered, exactly_once=False)
    counts = Counter(webhook.delivered_uuids())
    assert {event for event, n in counts.items() if n > 1} <= held  # re-sent after its lease
    assert sum(webhook.calls.values()) > sum(counts.values())  # failures happened and healed
    assert outbox() == []


def test_sigterm_finishes_the_batch_and_releases_claims(
    spawn: Spawner, webhook: WebhookSink
) -> None:
    expected = enqueue(streams=50, per_stream=2)
    webhook.delay = 0.02
    port = free_port()
    relay = spawn(
        "run", "--batch-size", "10", "--http-host", "127.0.0.1", "--http-port", str(port),
        EVENTHEX_RELAY_PUBLISHER=webhook.url,
    )  # fmt: skip
    wait_for(lambda: len(webhook.delivered) >= 15)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        assert answer.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    assert "eventhex_relay_published_total" in metrics
    assert "eventhex_outbox_pending" in metrics
    relay.send_signal(signal.SIGTERM)
    finish(relay)
    left = outbox()
    assert left, "stopped before the end"
    assert all(entry.claimed_by is None for entry in left)
    assert len(left) + len(webhook.delivered) == 100
    finish(spawn("drain", "--publisher", webhook.url))
    assert set(webhook.calls.values()) == {1}
    assert_delivered_in_stream_order(expected, webhook.delivered, exactly_once=True)


def test_status_and_dead_letter_commands(spawn: Spawner) -> None:
    enqueue(streams=3, per_stream=1)
    entries = outbox()
    OutboxEntry.objects.using("postgres").filter(pk__in=[e.pk for e in entries[:2]]).update(
        dead=True, attempts=3, last_error="broker said no"
    )
    status = spawn("status", "--json")
    assert json.loads(status.communicate(timeout=60)[0]) == {
        "pending": 1, "in_flight": 0, "dead": 2, "oldest_age_seconds": pytest.approx(0, abs=60),
    }  # fmt: skip
    listing, _ = spawn("dead-letters", "list").communicate(timeout=60)
    assert [line.split()[0] for line in listing.splitlines()] == [str(e.pk) for e in entries[:2]]
    assert "broker said no" in listing
    out, _ = spawn("dead-letters", "replay", str(entries[0].pk)).communicate(timeout=60)
    assert out.strip() == "re-queued 1 dead letter(s)"
    refused = spawn("dead-letters", "purge")
    assert "give entry ids or --all" in refused.communicate(timeout=60)[1]
    assert refused.returncode == 2
    out, _ = spawn("dead-letters", "purge", "--all").communicate(timeout=60)
    assert out.strip() == "purged 1 dead letter(s)"
    assert sorted(e.pk for e in outbox()) == [entries[0].pk, entries[2].pk]


def test_listen_notify_wakes_a_waiting_relay() -> None:
    source = DjangoOutboxSource(database="postgres")
    source.claim("relay", 1, lease=__import__("datetime").timedelta(seconds=1))  # starts LISTEN
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(source.wait_for_entries(30)))
    waiter.start()
    enqueue(streams=1, per_stream=1)
    waiter.join(timeout=30)
    source.close()
    assert woken == [True]


def test_the_django_source_needs_its_settings_module(spawn: Spawner) -> None:
    process = spawn("status", DJANGO_SETTINGS_MODULE="")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "source 'django' cannot start" in err
    assert "DJANGO_SETTINGS_MODULE" in err


def test_the_django_source_takes_its_database_as_an_option(spawn: Spawner) -> None:
    chosen = spawn("status", "--json", "--source-option", "database=default")
    out, _ = chosen.communicate(timeout=60)
    assert chosen.returncode == 0
    assert json.loads(out)["dead"] == 0
    missing = spawn("status", "--source-option", "database=nowhere")
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2
    assert "'nowhere' is not in settings.DATABASES" in err


def test_drain_dead_letters_a_row_nested_too_deeply_and_delivers_the_rest(
    spawn: Spawner, webhook: WebhookSink
) -> None:
    healthy = enqueue(streams=5, per_stream=1)
    [deep_stream] = enqueue(streams=1, per_stream=1)
    with connections["postgres"].cursor() as cursor:  # around the adapter's checks (issue 27)
        cursor.execute(
            "UPDATE eventhex_outboxentry SET data = %s::jsonb WHERE stream_uuid = %s",
            ["[" * 12_000 + "]" * 12_000, deep_stream],  # past every Python's json
        )

    err = finish(spawn("drain", "--publisher", webhook.url))

    assert_delivered_in_stream_order(healthy, webhook.delivered, exactly_once=True)
    assert len(webhook.delivered) == 5
    dead = OutboxEntry.objects.using("postgres").values_list("stream_uuid", "dead", "last_error")
    [(stream, is_dead, reason)] = dead
    assert (stream, is_dead) == (deep_stream, True)
    assert "nests too deeply" in reason
    assert "RecursionError" not in err
