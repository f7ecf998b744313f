"""The crypto-provider seam: operations by key handle, so keys can live in a hardware card.

:class:`CryptoProvider` follows the shape of the GM/T 0018-2012 SDF interface (the API of
PCI-E crypto cards and server crypto machines): keys are created and kept inside the
provider, and callers only ever hold a :class:`KeyHandle`. An SDF-backed provider would map
the methods as follows (device/session opening — ``SDF_OpenDevice`` / ``SDF_OpenSession`` —
happens in its constructor, ``SDF_CloseSession`` / ``SDF_CloseDevice`` in ``close``):

=============================  ==========================================================
method                         SDF functions
=============================  ==========================================================
``random``                     ``SDF_GenerateRandom``
``generate_sm2_key``           ``SDF_GenerateKeyPair_ECC`` (or an internal key index plus
                               ``SDF_GetPrivateKeyAccessRight``)
``export_public_key``          ``SDF_ExportSignPublicKey_ECC`` / ``SDF_ExportEncPublicKey_ECC``
``sign``                       ``SDF_HashInit`` (with the public key and ID, for Z),
                               ``SDF_HashUpdate``, ``SDF_HashFinal``, ``SDF_InternalSign_ECC``
``verify``                     the same hash calls, then ``SDF_InternalVerify_ECC`` (handle)
                               or ``SDF_ExternalVerify_ECC`` (public key)
``encrypt``                    ``SDF_ExternalEncrypt_ECC`` (the card's ``ECCCipher`` is
                               re-encoded as DER C1C3C2)
``decrypt``                    ``SDF_InternalDecrypt_ECC`` (GM/T 0018-2023) or
                               ``SDF_ExternalDecrypt_ECC`` with the exported key where allowed
``generate_sm4_key``           ``SDF_GenerateKeyWithKEK`` / ``SDF_GenerateKeyWithIPK_ECC``
``sm4_gcm_encrypt/decrypt``    ``SDF_AuthEnc`` / ``SDF_AuthDec`` (GM/T 0018-2023)
``destroy``                    ``SDF_DestroyKey``
=============================  ==========================================================

:class:`SoftwareProvider` implements the protocol in process memory with
:mod:`security.crypto`; it is the default returned by :func:`get_provider`.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from security.crypto.errors import BackendUnavailableError, InvalidKeyError
from security.crypto.sm2 import DEFAULT_UID, SM2PrivateKey, SM2PublicKey
from security.crypto.sm4 import KEY_SIZE, SM4GCM

PROVIDER_ENV_VAR = "STIC_CRYPTO_PROVIDER"

KeyKind = Literal["sm2", "sm4"]


@dataclass(frozen=True, slots=True)
class KeyHandle:
    """An opaque reference to a key held by a provider (``id`` is unique within the provider)."""

    id: str
    kind: KeyKind


@runtime_checkable
class CryptoProvider(Protocol):
    """Key generation and use by handle; key material never has to leave the provider.

    Every method raises :class:`~security.crypto.errors.InvalidKeyError` for an unknown handle
    or a handle of the wrong kind.
    """

    name: str

    def random(self, length: int) -> bytes:
        """``length`` bytes from the provider's random source."""
        ...

    def generate_sm2_key(self) -> KeyHandle:
        """Create an SM2 key pair inside the provider."""
        ...

    def export_public_key(self, handle: KeyHandle) -> SM2PublicKey:
        """The public half of an SM2 key."""
        ...

    def sign(self, handle: KeyHandle, data: bytes, *, uid: bytes = DEFAULT_UID) -> bytes:
        """SM2-sign ``data`` (DER ``r, s``) as the holder of ``uid``."""
        ...

    def verify(
        self, key: KeyHandle | SM2PublicKey, signature: bytes, data: bytes, *, uid: bytes = DEFAULT_UID
    ) -> bool:
        """Verify with an internal key or an external public key; ``False`` on any mismatch."""
        ...

    def encrypt(self, key: KeyHandle | SM2PublicKey, plaintext: bytes) -> bytes:
        """SM2-encrypt to DER ``C1C3C2``."""
        ...

    def decrypt(self, handle: KeyHandle, ciphertext: bytes) -> bytes:
        """SM2-decrypt with an internal key; raise ``DecryptionError`` if tampered."""
        ...

    def generate_sm4_key(self) -> KeyHandle:
        """Create a 128-bit SM4 key inside the provider."""
        ...

    def sm4_gcm_encrypt(self, handle: KeyHandle, nonce: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
        """SM4-GCM encrypt with an internal key (ciphertext || tag)."""
        ...

    def sm4_gcm_decrypt(self, handle: KeyHandle, nonce: bytes, ciphertext: bytes, aad: bytes | None) -> bytes:
        """SM4-GCM decrypt with an internal key; raise ``DecryptionError`` if tampered."""
        ...

    def destroy(self, handle: KeyHandle) -> None:
        """Forget a key; later use of the handle raises ``InvalidKeyError``."""
        ...


class SoftwareProvider:
    """:class:`CryptoProvider` in process memory (keys vanish with the process). Thread-safe."""

    name = "software"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sm2: dict[str, SM2PrivateKey] = {}
        self._sm4: dict[str, SM4GCM] = {}

    def random(self, length: int) -> bytes:
        """Bytes from the OS CSPRNG."""
        if length < 0:
            raise ValueError(f"random length must be non-negative, got {length}")
        return os.urandom(length)

    def _new_id(self, kind: KeyKind) -> KeyHandle:
        return KeyHandle(id=f"{kind}-{secrets.token_hex(8)}", kind=kind)

    def import_sm2_key(self, key: SM2PrivateKey) -> KeyHandle:
        """Take custody of an existing SM2 key (``SDF_ImportKeyWithISK_ECC`` on a card)."""
        handle = self._new_id("sm2")
        with self._lock:
            self._sm2[handle.id] = key
        return handle

    def generate_sm2_key(self) -> KeyHandle:
        """Create an SM2 key pair."""
        return self.import_sm2_key(SM2PrivateKey.generate())

    def _sm2_key(self, handle: KeyHandle) -> SM2PrivateKey:
        key = self._sm2.get(handle.id) if handle.kind == "sm2" else None
        if key is None:
            raise InvalidKeyError(f"no SM2 key with handle {handle.id!r} in the software provider")
        return key

    def _sm4_key(self, handle: KeyHandle) -> SM4GCM:
        key = self._sm4.get(handle.id) if handle.kind == "sm4" else None
        if key is None:
            raise InvalidKeyError(f"no SM4 key with handle {handle.id!r} in the software provider")
        return key

    def export_public_key(self, handle: KeyHandle) -> SM2PublicKey:
        """The public half of an SM2 key."""
        return self._sm2_key(handle).public_key()

    def sign(self, handle: KeyHandle, data: bytes, *, uid: bytes = DEFAULT_UID) -> bytes:
        """SM2 signature, DER."""
        return self._sm2_key(handle).sign(data, uid=uid)

    def verify(
        self, key: KeyHandle | SM2PublicKey, signature: bytes, data: bytes, *, uid: bytes = DEFAULT_UID
    ) -> bool:
        """Verify with an internal or external key."""
        public = key if isinstance(key, SM2PublicKey) else self.export_public_key(key)
        return public.verify(signature, data, uid=uid)

    def encrypt(self, key: KeyHandle | SM2PublicKey, plaintext: bytes) -> bytes:
        """SM2 encryption to DER C1C3C2."""
        public = key if isinstance(key, SM2PublicKey) else self.export_public_key(key)
        return public.encrypt(plaintext)

    def decrypt(self, handle: KeyHandle, ciphertext: bytes) -> bytes:
        """SM2 decryption."""
        return self._sm2_key(handle).decrypt(ciphertext)

    def generate_sm4_key(self) -> KeyHandle:
        """Create an SM4 key."""
        handle = self._new_id("sm4")
        with self._lock:
            self._sm4[handle.id] = SM4GCM(os.urandom(KEY_SIZE))
        return handle

    def sm4_gcm_encrypt(self, handle: KeyHandle, nonce: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
        """SM4-GCM encryption with an internal key."""
        return self._sm4_key(handle).encrypt(nonce, plaintext, aad)

    def sm4_gcm_decrypt(self, handle: KeyHandle, nonce: bytes, ciphertext: bytes, aad: bytes | None) -> bytes:
        """SM4-GCM decryption with an internal key."""
        return self._sm4_key(handle).decrypt(nonce, ciphertext, aad)

    def destroy(self, handle: KeyHandle) -> None:
        """Forget a key (unknown handles raise ``InvalidKeyError``)."""
        with self._lock:
            store: dict[str, SM2PrivateKey] | dict[str, SM4GCM] = (
                self._sm2 if handle.kind == "sm2" else self._sm4
            )
            if store.pop(handle.id, None) is None:
                raise InvalidKeyError(f"no key with handle {handle.id!r} in the software provider")


_PROVIDERS: dict[str, CryptoProvider] = {}
_PROVIDERS_LOCK = threading.Lock()


def get_provider(name: str | None = None) -> CryptoProvider:
    """Return the process-wide provider called ``name`` (default: ``STIC_CRYPTO_PROVIDER`` or ``software``).

    Raises :class:`BackendUnavailableError` for a provider this build does not have.
    """
    chosen = name or os.environ.get(PROVIDER_ENV_VAR, "").strip() or "software"
    if chosen != "software":
        raise BackendUnavailableError(f"unknown crypto provider {chosen!r}; available: software")
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(chosen)
        if provider is None:
            provider = _PROVIDERS[chosen] = SoftwareProvider()
        return provider
