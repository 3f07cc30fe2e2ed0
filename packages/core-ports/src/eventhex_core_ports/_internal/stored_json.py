"""Decoding JSON that was read from storage, without letting one stored value crash a reader.

Python's ``json`` recurses once per nesting level and raises ``RecursionError`` near the
interpreter's recursion limit (about 1,000 levels). eventhex never stores a payload nested
deeper than 100 levels, but a row written around its checks can be: :func:`loads_stored` turns
that into :class:`~eventhex_core_ports.errors.StoredJsonUnreadable`, an ordinary ``ValueError``
the read paths attach the event's identity and position to. The ``try`` costs nothing when the
text decodes, so the hot paths keep their speed.
"""

import json
from typing import Any

from eventhex_core_ports.errors import StoredJsonUnreadable

__all__ = ["TOO_DEEP", "loads_stored"]

TOO_DEEP = "its JSON nests too deeply to decode (Python's recursion limit)"
"""The reason given for a value nested deeper than Python's ``json`` can decode."""


def loads_stored(text: str | bytes) -> Any:
    """``json.loads(text)``, raising ``StoredJsonUnreadable`` instead of ``RecursionError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise StoredJsonUnreadable(TOO_DEEP) from None
