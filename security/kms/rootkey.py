"""The operator's root key, and sealing of master-key material at rest.

The root key is 32 bytes supplied by the operator as hex (64 characters) or base64, in an
environment variable or a file; it never touches the database. Master-key material is sealed
with SM4-GCM under ``HMAC-SM3(root, "stic-kms/seal/v1")[:16]`` with AAD
``"stic-kms/v1" ‖ 0 ‖ tenant ‖ 0 ‖ key id ‖ 0 ‖ version`` so a sealed blob cannot be moved to
another key, version or tenant. ``fingerprint`` identifies the root key without revealing it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from pathlib import Path

from security.crypto import SM4GCM, DecryptionError, hmac_sm3, sm3_hex

ROOT_KEY_SIZE = 32
MATERIAL_SIZE = 16


class RootKeyError(ValueError):
    """The root key is missing or malformed (the message says which source and why)."""


class SealError(RuntimeError):
    """Sealed key material does not open under this root key (wrong root key or tampering)."""


def _decode(text: str, source: str) -> bytes:
    text = text.strip()
    candidates: list[bytes] = []
    if len(text) == 2 * ROOT_KEY_SIZE:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(text))
    with contextlib.suppress(binascii.Error):
        candidates.append(base64.b64decode(text, validate=True))
    for candidate in candidates:
        if len(candidate) == ROOT_KEY_SIZE:
            return candidate
    raise RootKeyError(f"root key from {source} must be {ROOT_KEY_SIZE} bytes as hex or base64")


def _aad(*, tenant_id: str, key_id: str, version: int) -> bytes:
    return b"\0".join([b"stic-kms/v1", tenant_id.encode(), key_id.encode(), str(version).encode()])


class RootKey:
    """Seals and unseals master-key material."""

    def __init__(self, material: bytes) -> None:
        if len(material) != ROOT_KEY_SIZE:
            raise RootKeyError(f"root key must be {ROOT_KEY_SIZE} bytes, got {len(material)}")
        self._cipher = SM4GCM(hmac_sm3(material, b"stic-kms/seal/v1")[:16])
        self.fingerprint = sm3_hex(b"stic-kms/fingerprint/v1" + material)[:16]

    @classmethod
    def from_text(cls, text: str, *, source: str = "text") -> RootKey:
        """Parse hex or base64 text."""
        return cls(_decode(text, source))

    @classmethod
    def load(cls, *, env_var: str = "STIC_KMS_ROOT_KEY", file: Path | None = None) -> RootKey:
        """From ``file`` if given, else from the environment variable; raises :class:`RootKeyError`."""
        if file is not None:
            try:
                return cls.from_text(file.read_text("utf-8"), source=str(file))
            except OSError as exc:
                raise RootKeyError(f"root key file {file} cannot be read: {exc}") from exc
        value = os.environ.get(env_var)
        if not value:
            raise RootKeyError(f"no root key: set {env_var} or give a root key file")
        return cls.from_text(value, source=env_var)

    def seal(self, material: bytes, *, tenant_id: str, key_id: str, version: int) -> bytes:
        """Encrypt master-key material bound to its tenant, key and version."""
        return self._cipher.seal(material, _aad(tenant_id=tenant_id, key_id=key_id, version=version))

    def unseal(self, sealed: bytes, *, tenant_id: str, key_id: str, version: int) -> bytes:
        """Reverse :meth:`seal`; raises :class:`SealError` if anything does not match."""
        try:
            return self._cipher.open(sealed, _aad(tenant_id=tenant_id, key_id=key_id, version=version))
        except DecryptionError as exc:
            raise SealError(
                f"material of {key_id} v{version} does not open under root key {self.fingerprint}"
            ) from exc
