"""PostgreSQL crashes and restarts while writers, a subscriber and a relay process run.

The test starts a server of its own (``-m immediate`` stop, so the restart goes through crash
recovery), runs two writer threads appending to new streams, a subscriber thread reading every
event with ``build_batch`` and an ``eventhex-relay run`` process publishing the outbox to
standard output. After the restart the writers go on until each has committed more; then:

* every append a writer saw succeed is stored completely (events lost: 0), and no stream holds
  part of an append;
* the subscriber delivered every stored event exactly once, in commit order, across the restart
  (it reconnected by itself);
* the relay published every outbox entry at least once and the outbox ended empty.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.db.models import Count
from event_sourcery import StreamId

from eventhex_django_adapter import DjangoBackend, DjangoConfig
from eventhex_django_adapter.models import Event as EventRow
from eventhex_django_adapter.models import OutboxEntry
from tests.waiting import wait_for

from ._dedicated_postgres import dedicated_postgres
from ._report import ReliabilityReport
from ._support import Noted

ALIAS = "restartable"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Writer(threading.Thread):
    """Appends two events to a new stream per round; remembers what was acknowledged."""

    def __init__(self, backend: DjangoBackend, name: str) -> None:
        super().__init__(name=name)
        self.backend = backend
        self.acknowledged: list[StreamId] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        number = 0
        try:
            while not self.stop.is_set():
                stream = StreamId(name=f"{self.name}-{number}", category="restart")
                number += 1
                try:
                    self.backend.event_store.append(
                        Noted(text=f"{stream.name}/1"),
                        Noted(text=f"{stream.name}/2"),
                        stream_id=stream,
                    )
                    self.acknowledged.append(stream)
                except DatabaseError:
                    self.errors += 1
                    connections[ALIAS].close()
                    time.sleep(0.05)
        finally:
            connections[ALIAS].close()


class Subscriber(threading.Thread):
    """Reads every event from position 0 until told to stop."""

    def __init__(self, backend: DjangoBackend) -> None:
        super().__init__(name="subscriber")
        self.backend = backend
        self.received: list[Any] = []
        self.failure: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            batches = self.backend.subscriber.start_from(0).build_batch(100, 0.1)
            while not self.stop.is_set():
                self.received.extend(next(batches))
        except BaseException as error:
            self.failure = error
        finally:
            connections[ALIAS].close()


def _relay(port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.outbox_relay.relay_settings",
        "RELAY_TEST_DB_NAME": "postgres",
        "RELAY_TEST_DB_HOST": "127.0.0.1",
        "RELAY_TEST_DB_PORT": str(port),
        "RELAY_TEST_DB_USER": "postgres",
        "EVENTHEX_RELAY_SOURCE": "django",
        "EVENTHEX_RELAY_LOG_FORMAT": "text",
        "EVENTHEX_RELAY_POLL_INTERVAL": "0.05",
        "EVENTHEX_RELAY_BACKOFF_BASE": "0.05",
        "EVENTHEX_RELAY_BACKOFF_MAX": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "eventhex_outbox_relay", "run", "--publisher", "stdout:"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_crash_and_restart_loses_nothing(
    django_db_blocker: Any, reliability: ReliabilityReport
) -> None:
    with django_db_blocker.unblock(), dedicated_postgres(ALIAS) as server:
        call_command("migrate", "eventhex", database=ALIAS, verbosity=0)
        config = DjangoConfig(database=ALIAS, gap_retry_interval=timedelta(seconds=0.1))
        backend = DjangoBackend().configure(config).with_outbox()
        writers = [Writer(backend, f"writer{i}") for i in range(2)]
        subscriber = Subscriber(backend)
        relay = _relay(server.server.port)
        # One reader per pipe, each to the pipe's end: a second consumer of stdout (as
        # communicate() is) takes lines that the published list then misses.
        published: list[str] = []
        log: list[str] = []
        readers = [
            threading.Thread(
                target=lambda: published.extend(
                    json.loads(line)["event_uuid"] for line in relay.stdout or [] if line.strip()
                ),
                daemon=True,
            ),
            threading.Thread(target=lambda: log.extend(relay.stderr or []), daemon=True),
        ]
        for reader in readers:
            reader.start()
        for thread in [*writers, subscriber]:
            thread.start()
        try:
            wait_for(lambda: all(len(w.acknowledged) >= 20 for w in writers), "writes")
            before = [len(w.acknowledged) for w in writers]
            reliability.injected("PostgreSQL crashed and restarted under load")
            server.crash_and_restart()
            connections[ALIAS].close()  # this thread's connection died with the server
            targets = [(writer, count + 20) for writer, count in zip(writers, before, strict=True)]
            wait_for(
                lambda: all(len(w.acknowledged) >= n for w, n in targets),
                "writes after the restart",
            )
            for writer in writers:
                writer.stop.set()
                writer.join()
            assert relay.poll() is None, "the relay process died"
            stored = list(
                EventRow.objects.using(ALIAS).order_by("tx_id", "id").values_list("uuid", flat=True)
            )
            wait_for(lambda: len(subscriber.received) >= len(stored), "the subscriber")
            wait_for(lambda: not OutboxEntry.objects.using(ALIAS).exists(), "the relay")
            relay.send_signal(signal.SIGTERM)
            relay.wait(timeout=60)
        finally:
            for thread in [*writers, subscriber]:
                thread.stop.set()
                thread.join()
            if relay.poll() is None:
                relay.kill()
                relay.wait()
            for reader in readers:
                reader.join(timeout=30)
        relay_log = "".join(log)

        assert subscriber.failure is None, repr(subscriber.failure)
        assert relay.returncode == 0, relay_log[-3000:]
        acknowledged = [s for w in writers for s in w.acknowledged]
        per_stream = dict(
            EventRow.objects.using(ALIAS).values_list("stream__name").annotate(n=Count("id"))
        )
        lost = sum(2 - per_stream.get(s.name, 0) for s in acknowledged)
        reliability.checked_events(2 * len(acknowledged), lost)
        assert lost == 0
        assert set(per_stream.values()) == {2}  # no stream holds half an append
        delivered = [r.wrapped_event.uuid for r in subscriber.received]
        assert delivered == stored  # exactly once, in commit order
        assert {str(u) for u in stored} <= set(published)  # at least once
        assert sum(w.errors for w in writers) > 0  # the writers did see the outage
        reliability.survived("PostgreSQL crashed and restarted under load")
