"""The software crypto provider against the CryptoProvider protocol."""

from __future__ import annotations

import pytest

from security.crypto import (
    BackendUnavailableError,
    CryptoProvider,
    DecryptionError,
    InvalidKeyError,
    SM2PrivateKey,
    SoftwareProvider,
    get_provider,
)
from security.crypto.provider import PROVIDER_ENV_VAR, KeyHandle


def test_software_provider_honours_the_protocol() -> None:
    assert isinstance(SoftwareProvider(), CryptoProvider)
    assert isinstance(get_provider(), CryptoProvider)


def test_default_provider_is_a_shared_software_provider() -> None:
    assert get_provider() is get_provider("software")
    assert get_provider().name == "software"


def test_unknown_provider_is_named() -> None:
    with pytest.raises(BackendUnavailableError, match="unknown crypto provider 'sdf'"):
        get_provider("sdf")
    assert PROVIDER_ENV_VAR == "STIC_CRYPTO_PROVIDER"


def test_sm2_operations_by_handle() -> None:
    provider = SoftwareProvider()
    handle = provider.generate_sm2_key()
    public = provider.export_public_key(handle)
    signature = provider.sign(handle, b"checkpoint", uid=b"audit")
    assert provider.verify(handle, signature, b"checkpoint", uid=b"audit")
    assert provider.verify(public, signature, b"checkpoint", uid=b"audit")
    assert public.verify(signature, b"checkpoint", uid=b"audit")
    assert not provider.verify(handle, signature, b"checkpoint")
    ciphertext = provider.encrypt(public, b"data key")
    assert provider.decrypt(handle, ciphertext) == b"data key"
    assert provider.decrypt(handle, provider.encrypt(handle, b"again")) == b"again"


def test_imported_key_is_used_as_is() -> None:
    provider = SoftwareProvider()
    key = SM2PrivateKey.generate()
    handle = provider.import_sm2_key(key)
    assert provider.export_public_key(handle) == key.public_key()


def test_sm4_gcm_by_handle_rejects_tampering() -> None:
    provider = SoftwareProvider()
    handle = provider.generate_sm4_key()
    nonce = provider.random(12)
    sealed = provider.sm4_gcm_encrypt(handle, nonce, b"body", b"aad")
    assert provider.sm4_gcm_decrypt(handle, nonce, sealed, b"aad") == b"body"
    with pytest.raises(DecryptionError):
        provider.sm4_gcm_decrypt(handle, nonce, sealed, b"other")


def test_destroyed_unknown_and_wrong_kind_handles_are_refused() -> None:
    provider = SoftwareProvider()
    sm2, sm4 = provider.generate_sm2_key(), provider.generate_sm4_key()
    with pytest.raises(InvalidKeyError, match="no SM2 key"):
        provider.sign(KeyHandle(id=sm4.id, kind="sm2"), b"x")
    with pytest.raises(InvalidKeyError, match="no SM4 key"):
        provider.sm4_gcm_encrypt(sm2, bytes(12), b"x", None)
    provider.destroy(sm2)
    with pytest.raises(InvalidKeyError):
        provider.sign(sm2, b"x")
    with pytest.raises(InvalidKeyError):
        provider.destroy(sm2)


def test_random_lengths() -> None:
    provider = SoftwareProvider()
    assert len(provider.random(0)) == 0
    assert len(provider.random(48)) == 48
    assert provider.random(32) != provider.random(32)
    with pytest.raises(ValueError, match="non-negative"):
        provider.random(-1)
