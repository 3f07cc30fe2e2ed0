"""A local HTTP server that receives webhook deliveries and answers as told."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookSink:
    """Records every delivered body; can refuse chosen events and slow every answer down.

    Attributes:
        delivered: Bodies answered 2xx, in arrival order.
        requests: Every post's headers (as received, in order) and raw body.
        calls: How many times each event uuid was posted (delivered or not).
        failures_left: Event uuid -> how many more posts to answer with HTTP 500.
        refused: Event uuids always answered with HTTP 422.
        delay: Seconds to wait before each answer.
        hold_after: Once this many bodies are delivered, keep every answer back (setting
            ``holding``) until ``release`` is set.
        fail_rate: The share of posts answered with HTTP 500 at random (seeded ``rng``).
        most_at_once: The most posts in progress at the same time.
        overlapped_in_a_stream: Whether two posts of one stream were ever in progress at once.
    """

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.requests: list[tuple[list[tuple[str, str]], bytes]] = []
        self.calls: Counter[str] = Counter()
        self.failures_left: dict[str, int] = {}
        self.refused: set[str] = set()
        self.delay = 0.0
        self.hold_after: int | None = None
        self.fail_rate = 0.0
        self.rng = random.Random(15)
        self.most_at_once = 0
        self.overlapped_in_a_stream = False
        self._in_progress: Counter[str] = Counter()
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with sink._lock:
                    sink.requests.append((list(self.headers.items()), body))
                payload = json.loads(body)
                stream = self.headers.get("X-Eventhex-Partition-Key", "")
                sink._begin(stream)
                try:
                    status = sink._answer(payload, dict(self.headers))
                    if sink.delay:
                        time.sleep(sink.delay)
                    if sink.hold_after is not None and len(sink.delivered) >= sink.hold_after:
                        sink.holding.set()  # the caller is waiting for this answer right now
                        sink.release.wait(30)
                finally:
                    sink._end(stream)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def _begin(self, stream: str) -> None:
        with self._lock:
            self._in_progress[stream] += 1
            self.overlapped_in_a_stream |= self._in_progress[stream] > 1
            self.most_at_once = max(self.most_at_once, self._in_progress.total())

    def _end(self, stream: str) -> None:
        with self._lock:
            self._in_progress[stream] -= 1

    def _answer(self, payload: dict[str, Any], headers: dict[str, str]) -> int:
        event = payload.get("event_uuid") or headers.get("ce-id", "")  # a CloudEvent's data
        with self._lock:
            self.calls[event] += 1
            if event in self.refused:
                return 422
            if self.fail_rate and self.rng.random() < self.fail_rate:
                return 500
            if self.failures_left.get(event, 0) > 0:
                self.failures_left[event] -= 1
                return 500
            self.delivered.append(payload)
            self.headers.append(headers)
            return 200

    def delivered_uuids(self) -> list[str]:
        with self._lock:
            return [p["event_uuid"] for p in self.delivered]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
