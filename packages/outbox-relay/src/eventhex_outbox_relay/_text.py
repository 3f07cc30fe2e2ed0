"""Text from outside (broker answers, ids, errors) made safe for a terminal or a log line."""

from __future__ import annotations

__all__ = ["printable"]


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
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
