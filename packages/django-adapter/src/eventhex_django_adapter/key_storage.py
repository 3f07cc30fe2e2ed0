"""``DjangoKeyStorage``: per-tenant encryption keys for crypto-shredding.

Use it with ``backend.with_encryption(strategy, DjangoKeyStorage())``. Deleting a subject's key
makes its encrypted event fields unreadable for good (they read as their mask values).
"""

import copy
from typing import Self

from django.db import IntegrityError, transaction
from event_sourcery import DEFAULT_TENANT, TenantId
from event_sourcery.interfaces import EncryptionKeyStorageStrategy

from eventhex_django_adapter.models import EncryptionKey

__all__ = ["DjangoKeyStorage"]


class DjangoKeyStorage(EncryptionKeyStorageStrategy):
    """Keys in ``eventhex_encryptionkey``, one per (tenant, subject).

    Args:
        database: The ``settings.DATABASES`` alias holding the tables.
        tenant_id: The tenant whose keys this instance reads and writes.
    """

    def __init__(self, database: str = "default", tenant_id: TenantId = DEFAULT_TENANT) -> None:
        self._database = database
        self._tenant_id = tenant_id

    def get(self, subject_id: str) -> bytes | None:
        """The subject's key, or ``None`` when it has none (or it was shredded)."""
        key = (
            EncryptionKey.objects.using(self._database)
            .filter(tenant_id=self._tenant_id, subject_id=subject_id)
            .values_list("key", flat=True)
            .first()
        )
        return None if key is None else bytes(key)

    def store(self, subject_id: str, key: bytes) -> None:
        """Set the subject's key, replacing any previous one."""
        keys = EncryptionKey.objects.using(self._database)
        with transaction.atomic(using=self._database):
            if keys.filter(tenant_id=self._tenant_id, subject_id=subject_id).update(key=key):
                return
            try:
                with transaction.atomic(using=self._database):
                    keys.create(tenant_id=self._tenant_id, subject_id=subject_id, key=key)
            except IntegrityError:  # stored concurrently: the later write wins
                keys.filter(tenant_id=self._tenant_id, subject_id=subject_id).update(key=key)

    def delete(self, subject_id: str) -> None:
        """Forget the subject's key (crypto-shredding); a missing key is a no-op."""
        EncryptionKey.objects.using(self._database).filter(
            tenant_id=self._tenant_id, subject_id=subject_id
        ).delete()

    def scoped_for_tenant(self, tenant_id: TenantId) -> Self:
        """A copy that reads and writes ``tenant_id``'s keys."""
        scoped = copy.copy(self)
        scoped._tenant_id = tenant_id
        return scoped
