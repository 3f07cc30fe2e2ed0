"""A small HTTP server for operations endpoints (``/healthz``, ``/metrics``) that a flood of
idle or hostile connections cannot take down.

One selector thread reads every connection without blocking; a fixed pool of worker threads
(two by default) runs the handlers, so the thread count never grows with the connections.
Every connection has a read timeout (a whole request head within ``read_timeout``) and a
deadline (answered and written within ``deadline``), and at most ``max_connections`` are kept:
when a new one arrives at the cap, the connection that has been waiting longest for its request
(or else the oldest) is dropped to make room, so neither idle or half-open connections nor a
flood of requests can keep a probe out. One
request per connection (``Connection: close``), ``GET`` and ``HEAD`` only, heads of up to 8 KiB.

Handlers that read a database keep their readings in a
:class:`~.cached_reading.CachedReading`, so that scrapes cost one query per
interval, however many and however frequent.

Used by the relay's operations port and the projection runner's metrics port; it imports no
framework.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["OpsHttpServer", "Request", "Response", "Route"]

logger = logging.getLogger("eventhex_core_ports._internal.ops_http")

MAX_HEAD = 8192
"""Longest request head read; a longer one is answered 431."""


@dataclass(frozen=True)
class Request:
    """A parsed request head: the method, the path without its query, lower-cased headers."""

    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Response:
    """What a handler answers."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


Route = Callable[[Request], Response]
"""A handler: runs on a worker thread; an exception answers 503 with a generic body."""


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    opened: float
    head: bytes = b""
    out: bytes = b""
    state: str = "reading"  # reading -> handling -> writing
    closed: bool = False


class OpsHttpServer:
    """Serves ``routes`` on ``host:port`` from one selector thread and a fixed worker pool.

    Args:
        host: Interface to bind (``127.0.0.1``: this machine only).
        port: Port to bind (0 picks a free one; see :attr:`port`).
        routes: Path -> handler.
        read_timeout: Seconds a connection may take to send its whole request head.
        deadline: Seconds a connection may stay open in all (answer written included).
        max_connections: Connections kept at once; at the cap, the one waiting longest for its
            request (or else the oldest) is dropped for a new one.
        inline: Paths whose handlers are cheap and never block (``/healthz``): run on the
            selector thread, so they are answered even while every worker waits on a database.
        workers: Threads that run the other handlers.
        name: Name of the threads, for thread dumps.
    """

    def __init__(
        self,
        host: str,
        port: int,
        routes: Mapping[str, Route],
        *,
        read_timeout: float = 5.0,
        deadline: float = 10.0,
        max_connections: int = 64,
        inline: frozenset[str] = frozenset(),
        workers: int = 2,
        name: str = "eventhex-ops-http",
    ) -> None:
        self._routes = dict(routes)
        self._inline = inline
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._max_connections = max_connections
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ, "wake")
        self._answered: queue.SimpleQueue[tuple[_Connection, bytes]] = queue.SimpleQueue()
        self._open: dict[socket.socket, _Connection] = {}
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; close the port and every connection."""
        self._stopping.set()
        self._wake()
        if self._thread.is_alive():
            self._thread.join(5)
        for connection in list(self._open.values()):
            self._close(connection)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for sock in (self._listener, self._wake_in, self._wake_out):
            sock.close()
        self._selector.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_out.send(b"x")

    def _loop(self) -> None:
        while not self._stopping.is_set():
            for key, events in self._selector.select(timeout=self._next_timeout()):
                try:
                    self._dispatch(key.data, events)
                except Exception:  # one connection's trouble must not stop the port
                    logger.exception("operations port: a connection failed")
                    if isinstance(key.data, _Connection):
                        self._close(key.data)
            self._cut_overdue()

    def _dispatch(self, data: object, events: int) -> None:
        if data == "accept":
            self._accept()
        elif data == "wake":
            self._take_answers()
        elif isinstance(data, _Connection):
            if events & selectors.EVENT_READ:
                self._read(data)
            else:
                self._write(data)

    def _next_timeout(self) -> float:
        return min(1.0, self._read_timeout / 2, self._deadline / 2)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # out of file descriptors, say: try again shortly
                logger.warning("operations port cannot accept a connection: %s", error)
                self._stopping.wait(0.2)  # the listener stays ready: do not spin on it
                return
            if len(self._open) >= self._max_connections:
                self._drop_one()
            sock.setblocking(False)
            connection = _Connection(sock, time.monotonic())
            self._open[sock] = connection
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _drop_one(self) -> None:
        """Make room: drop the connection waiting longest for its request, or else the oldest
        one (its answer is discarded), so that a new connection, a probe say, always gets in."""
        waiting = [c for c in self._open.values() if c.state == "reading"]
        self._close(min(waiting or self._open.values(), key=lambda c: c.opened))

    def _read(self, connection: _Connection) -> None:
        try:
            chunk = connection.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(connection)
            return
        connection.head += chunk
        end = connection.head.find(b"\r\n\r\n")
        if end < 0 and len(connection.head) <= MAX_HEAD:
            return
        self._selector.unregister(connection.sock)
        connection.state = "handling"
        if end < 0 or end > MAX_HEAD:
            self._answer(connection, _render(Response(431, b"request head too large\n"), False))
            return
        request = _parse(connection.head[:end])
        if request is None:
            self._answer(connection, _render(Response(400, b"bad request\n"), False))
            return
        if request.path in self._inline:
            self._handle(connection, request)
        else:
            self._pool.submit(self._handle, connection, request)

    def _handle(self, connection: _Connection, request: Request) -> None:
        if connection.closed:  # dropped or cut off while queued: nobody is waiting
            return
        if request.method not in ("GET", "HEAD"):
            response = Response(405, b"method not allowed\n")
        elif (route := self._routes.get(request.path)) is None:
            response = Response(404, b"not found\n")
        else:
            try:
                response = route(request)
            except Exception:
                logger.exception("operations handler for %s failed", request.path)
                response = Response(503, b"unavailable\n")
        self._answered.put((connection, _render(response, request.method == "HEAD")))
        self._wake()

    def _answer(self, connection: _Connection, data: bytes) -> None:
        self._answered.put((connection, data))
        self._take_answers()

    def _take_answers(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._wake_in.recv(4096):
                pass
        while True:
            try:
                connection, data = self._answered.get_nowait()
            except queue.Empty:
                return
            if connection.closed:
                continue
            connection.out, connection.state = data, "writing"
            self._selector.register(connection.sock, selectors.EVENT_WRITE, connection)

    def _write(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(connection)
            return
        connection.out = connection.out[sent:]
        if not connection.out:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_WR)
            self._close(connection)

    def _cut_overdue(self) -> None:
        now = time.monotonic()
        for connection in list(self._open.values()):
            waited = now - connection.opened
            reading_too_long = connection.state == "reading" and waited > self._read_timeout
            if reading_too_long or waited > self._deadline:
                self._close(connection)

    def _close(self, connection: _Connection) -> None:
        if connection.closed:
            return
        connection.closed = True
        self._open.pop(connection.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(connection.sock)
        connection.sock.close()


def _parse(head: bytes) -> Request | None:
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            return None
        headers[name.strip().lower()] = value.strip()
    return Request(method, target.partition("?")[0], headers)


def _render(response: Response, head_only: bool) -> bytes:
    reason = HTTPStatus(response.status).phrase
    head = (
        f"HTTP/1.1 {response.status} {reason}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    return head if head_only else head + response.body
