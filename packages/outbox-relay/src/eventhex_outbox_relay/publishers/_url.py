"""Splitting our own query parameters off a broker URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["pop_params"]


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
