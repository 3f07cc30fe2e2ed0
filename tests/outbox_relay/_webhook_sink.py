"""A local HTTP server that receives webhook deliveries and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookSink:
    """Records every delivered body; can refuse chosen events and slow every answer down.

    Attributes:
        delivered: Bodies answered 2xx, in arrival order.
        calls: How many times each event uuid was posted (delivered or not).
        failures_left: Event uuid -> how many more posts to answer with HTTP 500.
        refused: Event uuids always answered with HTTP 422.
        delay: Seconds to wait before each answer.
        hold_after: Once this many bodies are delivered, keep every answer back (setting
            ``holding``) until ``release`` is set.
    """

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.calls: Counter[str] = Counter()
        self.failures_left: dict[str, int] = {}
        self.refused: set[str] = set()
        self.delay = 0.0
        self.hold_after: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = sink._answer(json.loads(body), dict(self.headers))
                if sink.delay:
                    time.sleep(sink.delay)
                if sink.hold_after is not None and len(sink.delivered) >= sink.hold_after:
                    sink.holding.set()  # the caller is waiting for this answer right now
                    sink.release.wait(30)
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

    def _answer(self, payload: dict[str, Any], headers: dict[str, str]) -> int:
        event = payload.get("event_uuid") or headers.get("ce-id", "")  # a CloudEvent's data
        with self._lock:
            self.calls[event] += 1
            if event in self.refused:
                return 422
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
