"""Logging of eventhex processes: one configuration for the relay and the Django commands.

eventhex code logs through the standard library (``logging.getLogger(__name__)`` with
``extra={...}`` fields); structlog renders the records: one JSON object per line in production,
readable coloured lines on a terminal. Fields bound with :func:`bind` (the relay binds its owner
and each batch) join every record of the same thread or task. Text from outside (broker answers,
ids) has its control characters escaped in the readable format; JSON escapes them anyway.

Use it in a Django project's ``LOGGING`` too::

    LOGGING = {
        "version": 1,
        "formatters": {"eventhex": {"()": "eventhex_django_adapter.logs.formatter", "fmt":
        "json"}}, "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter":
        "eventhex"}}, "loggers": {"eventhex_django_adapter": {"handlers": ["stderr"], "level":
        "INFO"}},
    }
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

__all__ = ["LOGGERS", "LogFormat", "bind", "configure_logging", "formatter", "printable", "unbind"]

LOGGERS = ("eventhex", "eventhex_django_adapter", "eventhex_core_ports", "eventhex_outbox_relay")
"""The loggers :func:`configure_logging` sets up."""

LogFormat = Literal["json", "text", "auto"]
"""``json``, ``text`` (readable lines) or ``auto`` (text on a terminal, JSON otherwise)."""

bind = structlog.contextvars.bind_contextvars
unbind = structlog.contextvars.unbind_contextvars


def _escape(char: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with control and other non-printable characters (escape sequences, CR/LF,
    bidirectional overrides) written as Python-style escapes, and backslashes doubled so that an
    escape in the output always means one in the input. Letters of any script stay as they are.
    """
    return "".join(
        "\\\\" if char == "\\" else char if char.isprintable() else _escape(char) for char in text
    )


def _escaped(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and key != "exception":
            event[key] = printable(value)
    return event


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def formatter(fmt: LogFormat = "auto", stream: TextIO | None = None) -> logging.Formatter:
    """A standard-library formatter that renders eventhex records in ``fmt``.

    Args:
        fmt: ``json``, ``text`` or ``auto`` (decided by whether ``stream`` is a terminal).
        stream: Where the handler writes (standard error when omitted); used by ``auto`` and to
            colour text only on a terminal.
    """
    stream = stream or sys.stderr
    text = fmt == "text" or (fmt == "auto" and _is_terminal(stream))
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=_is_terminal(stream))
        if text
        else structlog.processors.JSONRenderer(default=str)
    )
    last = (
        [_escaped, renderer]
        if text
        else [
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            renderer,
        ]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
    )


def configure_logging(
    level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Send eventhex's logs (the :data:`LOGGERS`) to ``stream`` (standard error) in ``fmt``.

    Replaces any handler those loggers had and stops them propagating to the root logger, so a
    process configures them once whatever else configured logging.
    """
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(fmt, stream))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
