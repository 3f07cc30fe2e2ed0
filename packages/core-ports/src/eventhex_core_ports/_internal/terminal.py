"""Terminal-safe text: what every eventhex command and log line uses to show stored text.

Stream names, event names, tenant ids, handler errors and broker answers come from outside and
may hold escape sequences (ESC, OSC, CSI, C1 controls) that a terminal would obey: retitle the
window, hide lines, fake output, write a link. :func:`printable` makes such text inert and
unambiguous before it reaches a terminal; JSON output escapes control characters anyway.
"""

from __future__ import annotations

__all__ = ["printable"]


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
