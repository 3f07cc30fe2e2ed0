"""Key storage contract: per-tenant encryption keys for crypto-shredding."""

import os

import pytest
from event_sourcery.interfaces import EncryptionKeyStorageStrategy

__all__ = ["KeyStorageContract"]


class KeyStorageContract:
    """Tests every ``EncryptionKeyStorageStrategy`` must pass.

    Fixtures:
        key_storage: A fresh key storage of the adapter under test, in the default tenant,
            holding no keys.

    A key belongs to one (tenant, subject); ``scoped_for_tenant`` returns a view of the same
    storage for another tenant. Storing replaces, deleting shreds for good, and deleting a key
    that is not there does nothing.
    """

    @pytest.fixture
    def key_storage(self) -> EncryptionKeyStorageStrategy:
        raise NotImplementedError("provide `key_storage`: an empty key storage")

    def test_a_subject_without_a_key_has_none(
        self, key_storage: EncryptionKeyStorageStrategy
    ) -> None:
        assert key_storage.get("nobody") is None

    def test_a_stored_key_comes_back_byte_for_byte(
        self, key_storage: EncryptionKeyStorageStrategy
    ) -> None:
        key = b"\x00\xff" + os.urandom(30)
        key_storage.store("alice", key)
        assert key_storage.get("alice") == key
        assert isinstance(key_storage.get("alice"), bytes)

    def test_storing_again_replaces_the_key(
        self, key_storage: EncryptionKeyStorageStrategy
    ) -> None:
        key_storage.store("alice", b"first")
        key_storage.store("alice", b"second")
        assert key_storage.get("alice") == b"second"

    def test_subjects_have_their_own_keys(self, key_storage: EncryptionKeyStorageStrategy) -> None:
        key_storage.store("alice", b"a")
        key_storage.store("bob", b"b")
        assert (key_storage.get("alice"), key_storage.get("bob")) == (b"a", b"b")

    def test_delete_shreds_the_key_and_is_idempotent(
        self, key_storage: EncryptionKeyStorageStrategy
    ) -> None:
        key_storage.store("alice", b"a")
        key_storage.store("bob", b"b")
        key_storage.delete("alice")
        key_storage.delete("alice")
        key_storage.delete("never-stored")
        assert key_storage.get("alice") is None
        assert key_storage.get("bob") == b"b"

    def test_tenants_keep_their_own_keys(self, key_storage: EncryptionKeyStorageStrategy) -> None:
        tenant = key_storage.scoped_for_tenant("t1")
        key_storage.store("alice", b"\x00default")
        tenant.store("alice", b"\x01tenant")

        assert key_storage.get("alice") == b"\x00default"
        assert tenant.get("alice") == b"\x01tenant"
        assert key_storage.scoped_for_tenant("t2").get("alice") is None
        tenant.delete("alice")
        assert tenant.get("alice") is None
        assert key_storage.get("alice") == b"\x00default"

    def test_views_of_one_tenant_share_its_keys(
        self, key_storage: EncryptionKeyStorageStrategy
    ) -> None:
        key_storage.scoped_for_tenant("t1").store("alice", b"k")
        assert key_storage.scoped_for_tenant("t1").get("alice") == b"k"
        key_storage.scoped_for_tenant("t1").delete("alice")
        assert key_storage.scoped_for_tenant("t1").get("alice") is None
