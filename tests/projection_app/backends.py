"""``EVENTHEX_PROJECTIONS_BACKEND`` of the tests: the database the test points projections at."""

import json
from typing import Any

from django.conf import settings
from event_sourcery.interfaces import EncryptionStrategy

from eventhex_django_adapter import DjangoBackend, DjangoConfig, DjangoKeyStorage


def projections_backend() -> DjangoBackend:
    """A backend on ``settings.EVENTHEX_TEST_PROJECTION_DATABASE`` (``default`` when unset)."""
    alias = getattr(settings, "EVENTHEX_TEST_PROJECTION_DATABASE", "default")
    return DjangoBackend().configure(DjangoConfig(database=alias, gap_retry_interval=0.2))


class XorCipher(EncryptionStrategy):
    """A reversible stand-in cipher: the tests are about where plaintext goes, not ciphers."""

    def encrypt(self, data: Any, key: bytes) -> str:
        plain = json.dumps(data).encode()
        return bytes(b ^ key[i % len(key)] for i, b in enumerate(plain)).hex()

    def decrypt(self, data: str, key: bytes) -> Any:
        cipher = bytes.fromhex(data)
        return json.loads(bytes(b ^ key[i % len(key)] for i, b in enumerate(cipher)))


def encrypting_backend() -> DjangoBackend:
    """:func:`projections_backend` with encrypted fields, keys in the same database."""
    alias = getattr(settings, "EVENTHEX_TEST_PROJECTION_DATABASE", "default")
    return projections_backend().with_encryption(XorCipher(), DjangoKeyStorage(database=alias))
