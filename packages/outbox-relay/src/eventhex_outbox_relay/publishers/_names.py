"""Ids in places with a narrower alphabet than the ids: headers, routing keys, subjects, topics.

The input rules let a category, a tenant id or an event name be any text of up to 255
characters without NUL: non-Latin-1 letters, CR/LF, tabs and broker wildcards included. Each
helper here turns such an id into a value its protocol accepts, reversibly where the value is
short enough; the message body always carries the original.
"""

from __future__ import annotations

import hashlib
import string

__all__ = [
    "MAX_TOPIC",
    "TOPIC_SAFE",
    "header_value",
    "short_string",
    "subject_token",
    "topic_name",
    "topic_part",
]

_HEADER_SAFE = frozenset(string.printable) - frozenset(string.whitespace) - {"%"}
_TOKEN_SAFE = frozenset(string.ascii_letters + string.digits + "_-")
TOPIC_SAFE = frozenset(string.ascii_letters + string.digits + "._-")
"""Kafka's legal topic name characters."""
MAX_TOPIC = 249
"""Kafka's longest topic name."""

MAX_SUBJECT_TOKEN = 128
"""Longest subject token sent as is; a longer one is cut and given a digest."""


def _percent(text: str, safe: frozenset[str]) -> str:
    return "".join(
        char if char in safe else "".join(f"%{byte:02X}" for byte in char.encode()) for char in text
    )


def header_value(text: str) -> str:
    """``text`` with every character that is not printable ASCII, whitespace and ``%`` included,
    percent-encoded as UTF-8: any id fits an HTTP or NATS header, and ``unquote`` restores it.

    Plain ids (``acme:order:1f0c…``) pass unchanged.
    """
    return _percent(text, _HEADER_SAFE)


def _with_digest(text: str, head: str, budget: int) -> str:
    """``head`` cut to fit ``budget`` characters with ``~`` and 16 hex digits of ``text``'s
    SHA-256 appended."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{head[: budget - 17]}~{digest}"


def subject_token(text: str) -> str:
    """One NATS subject token for ``text``: letters, digits, ``_`` and ``-`` as they are, every
    other character percent-encoded as UTF-8 (so no ``.``, ``*``, ``>``, whitespace or control
    character reaches the protocol), ``_`` for empty text.

    A token longer than :data:`MAX_SUBJECT_TOKEN` is cut and ends in ``~`` and a digest of the
    whole text, so that it stays unique and the subject stays within the server's limits.
    """
    if not text:
        return "_"
    token = _percent(text, _TOKEN_SAFE)
    if len(token) <= MAX_SUBJECT_TOKEN:
        return token
    head = token[: MAX_SUBJECT_TOKEN - 17]
    cut = head.rfind("%", len(head) - 2)  # never split a %XX escape
    return _with_digest(text, head[:cut] if cut >= 0 else head, MAX_SUBJECT_TOKEN)


def short_string(text: str, limit: int = 255) -> str:
    """``text`` if its UTF-8 fits ``limit`` bytes (an AMQP short string), else its longest
    prefix that fits with ``~`` and 16 hex digits of its SHA-256 appended."""
    if len(text.encode()) <= limit:
        return text
    head = text.encode()[: limit - 17].decode(errors="ignore")  # whole characters only
    return _with_digest(text, head, len(head) + 17)


def topic_part(text: str) -> str:
    """``text`` as (part of) a Kafka topic name, whose alphabet is ``[A-Za-z0-9._-]``.

    A plain id (only those characters, not ``.`` or ``..``) stays as it is; ``_`` stands for
    empty text. Any other id has each character outside the alphabet replaced by ``_`` and ends
    in ``-`` and 8 hex digits of its SHA-256, so that two ids differing only there (``order
    items`` and ``order_items``) stay two topics. Kafka gives no way back; the message carries
    the original id. The whole topic name is bounded by :func:`topic_name`.
    """
    if not text:
        return "_"
    if set(text) <= TOPIC_SAFE and text not in (".", ".."):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return "".join(c if c in TOPIC_SAFE else "_" for c in text)[:MAX_TOPIC] + "-" + digest


def topic_name(name: str) -> str:
    """A rendered topic name bounded to :data:`MAX_TOPIC` characters: a longer one is cut and
    ends in ``-`` and 16 hex digits of its SHA-256."""
    if len(name) <= MAX_TOPIC:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: MAX_TOPIC - 17]}-{digest}"
