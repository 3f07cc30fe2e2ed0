"""In-memory ``EncryptionKeyStorageStrategy``: per-tenant keys for crypto-shredding."""

from dataclasses import dataclass, field, replace

from event_sourcery.interfaces import EncryptionKeyStorageStrategy

__all__ = ["InMemoryKeyStorage"]


@dataclass(frozen=True)
class InMemoryKeyStorage(EncryptionKeyStorageStrategy):
    """Keys by (tenant, subject); tenant views share one dictionary."""

    keys: dict[tuple[str, str], bytes] = field(default_factory=dict)
    tenant_id: str = ""

    def get(self, subject_id: str) -> bytes | None:
        return self.keys.get((self.tenant_id, subject_id))

    def store(self, subject_id: str, key: bytes) -> None:
        self.keys[(self.tenant_id, subject_id)] = key

    def delete(self, subject_id: str) -> None:
        self.keys.pop((self.tenant_id, subject_id), None)

    def scoped_for_tenant(self, tenant_id: str) -> "InMemoryKeyStorage":
        return replace(self, tenant_id=tenant_id)
