"""Webhook signatures, scheme ``v2``: one HMAC-SHA256 over the timestamp, every header the relay
sets and the body.

A receiver acts on the headers as much as on the body (a CloudEvent's ``ce-id``, ``ce-type``,
``ce-tenantid`` travel only as headers in binary mode), so all of them are signed, whichever
envelope. The string signed (UTF-8)::

    v2\\n
    <X-Eventhex-Timestamp>\\n
    <name>:<value>\\n        one line per signed header, names lower-case, in sorted order
    \\n
    <body>

``X-Eventhex-Signed-Headers`` lists the signed names (comma-separated, in that order) and
``X-Eventhex-Signature`` is ``v2=`` and the lower-case hex HMAC. Header values never hold CR or
LF (ids are percent-encoded, see :mod:`._names`), so the lines cannot be shifted. docs/relay.md
has the verification recipe and a reference verifier.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = [
    "SCHEME",
    "SIGNATURE_HEADER",
    "SIGNED_HEADERS_HEADER",
    "TIMESTAMP_HEADER",
    "signature",
    "signed_headers",
    "signing_input",
]

SCHEME = "v2"
"""The signature scheme; ``sha256=`` (timestamp and body only) was the first."""
SIGNATURE_HEADER = "X-Eventhex-Signature"
TIMESTAMP_HEADER = "X-Eventhex-Timestamp"
SIGNED_HEADERS_HEADER = "X-Eventhex-Signed-Headers"


def signing_input(timestamp: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The bytes the HMAC covers: the scheme, ``timestamp``, each of ``headers`` as a
    ``name:value`` line (names lower-case, sorted) and ``body``."""
    lines = [SCHEME, timestamp]
    lines += [f"{name.lower()}:{value}" for name, value in sorted(_lowered(headers).items())]
    return ("\n".join(lines) + "\n\n").encode() + body


def signature(secret: str, timestamp: str, headers: Mapping[str, str], body: bytes) -> str:
    """The ``X-Eventhex-Signature`` value: ``v2=`` and the hex HMAC-SHA256 of
    :func:`signing_input` keyed with ``secret``."""
    digest = hmac.new(secret.encode(), signing_input(timestamp, headers, body), hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def signed_headers(
    secret: str, timestamp: str, headers: Mapping[str, str], body: bytes
) -> dict[str, str]:
    """The three signature headers for a request with ``headers`` (all of them are signed)
    and ``body``."""
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNED_HEADERS_HEADER: ",".join(sorted(_lowered(headers))),
        SIGNATURE_HEADER: signature(secret, timestamp, headers, body),
    }


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    if len(lowered) != len(headers):
        raise ValueError("two headers differ only in case; a signature cannot tell them apart")
    bad = [
        name
        for name, value in lowered.items()
        if "\r" in value or "\n" in value or "," in name or ":" in name
    ]
    if bad:
        raise ValueError(f"headers {sorted(bad)} cannot be signed: CR or LF in the value, or ','")
    return lowered
