"""Idle and half-open connections against an operations port, as an attacker or a broken load
balancer leaves them: shared by the tests of every server built on ``ops_http``."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["get", "idle_connections", "server_threads"]


def get(port: int, path: str, accept: str | None = None) -> tuple[int, bytes]:
    """One GET on loopback: the status and the body."""
    headers = {"Accept": accept} if accept else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def idle_connections(port: int, count: int = 300) -> Iterator[list[socket.socket]]:
    """``count`` open connections that never finish a request: a third send nothing, a third
    half a request head, a third a head cut before its blank line."""
    partial = [b"", b"GET /heal", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"]
    opened: list[socket.socket] = []
    try:
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if partial[index % 3]:
                sock.sendall(partial[index % 3])
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def server_threads(prefix: str) -> int:
    """Live threads whose name starts with ``prefix``."""
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(prefix))
