"""Our own query parameters of a publisher URL: split off, checked, and the URL shown safely.

Settings validation calls :func:`check_publisher_url` at start-up, without importing any broker
client, so a bad parameter stops the relay with a clear message instead of a traceback later.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "NatsOptions",
    "check_publisher_url",
    "nats_options",
    "pop_params",
    "redacted",
    "redis_maxlen",
]

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def pop_params(url: str, **defaults: str) -> tuple[str, dict[str, str]]:
    """Remove the parameters named in ``defaults`` from ``url``'s query.

    Returns:
        The URL without them, and their values (defaults where absent).
    """
    parts = urlsplit(url)
    kept, ours = [], dict(defaults)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in defaults:
            ours[key] = value
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), ours


def redacted(url: str) -> str:
    """``url`` with its password (or a lone user part, often a token) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


@dataclasses.dataclass(frozen=True)
class NatsOptions:
    """What a ``nats://`` or ``tls://`` URL says besides the server."""

    stream: str
    subject: str
    tls: bool
    ca_file: str | None


def nats_options(url: str) -> tuple[str, NatsOptions]:
    """Split and check the NATS publisher's parameters.

    Raises:
        ValueError: A stream or subject prefix outside the safe alphabet.
    """
    clean, params = pop_params(url, stream="eventhex", subject="eventhex", ca_file="")
    if not _NAME.fullmatch(params["stream"]):
        raise ValueError(f"NATS stream name {params['stream']!r} is not [A-Za-z0-9_-]+")
    if not _SUBJECT.fullmatch(params["subject"]):
        raise ValueError(
            f"NATS subject prefix {params['subject']!r} is not dot-separated [A-Za-z0-9_-]+ tokens"
        )
    tls = urlsplit(url).scheme == "tls"
    if params["ca_file"] and not tls:
        raise ValueError("ca_file applies to tls:// URLs only")
    options = NatsOptions(params["stream"], params["subject"], tls, params["ca_file"] or None)
    return clean, options


def redis_maxlen(url: str) -> tuple[str, str, int | None]:
    """The Redis URL without our parameters, the stream key and ``maxlen`` (None: no cap).

    Raises:
        ValueError: An empty stream key or a ``maxlen`` that is not a positive whole number.
    """
    clean, params = pop_params(url, stream="eventhex", maxlen="")
    if not params["stream"]:
        raise ValueError("Redis stream key is empty")
    text = params["maxlen"]
    if not text:
        return clean, params["stream"], None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"maxlen={text!r} is not a positive whole number")
    return clean, params["stream"], int(text)


def check_publisher_url(url: str) -> None:
    """Check the parameters eventhex reads from a publisher URL (the broker client checks the
    rest when it connects).

    Raises:
        ValueError: Naming the bad parameter.
    """
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        redis_maxlen(url)
    elif scheme in ("nats", "tls"):
        nats_options(url)
    elif scheme in ("amqp", "amqps"):
        _, params = pop_params(url, exchange="eventhex")
        if not params["exchange"] or len(params["exchange"].encode()) > 255:
            raise ValueError("RabbitMQ exchange name must be 1 to 255 bytes")
