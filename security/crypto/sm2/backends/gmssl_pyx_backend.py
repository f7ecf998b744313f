"""Native backend on ``gmssl-pyx`` (a C extension over GmSSL 3).

Limits inherited from the extension: plaintexts of 1–255 bytes for encryption, no key
agreement primitive, no public-key derivation (done here with the pure ``gmssl`` backend,
once per key load), and GmSSL prints a line to stderr whenever a signature fails to verify.
"""

from __future__ import annotations

from typing import Any

import gmssl_pyx

from security.crypto.errors import CryptoError, DecryptionError, InvalidInputError
from security.crypto.sm2.backends.gmssl_backend import GmsslBackend
from security.crypto.sm2.curve import SM2_P256, Point

_MAX_PLAINTEXT = 255


def _raw(point: Point) -> bytes:
    return point[0].to_bytes(SM2_P256.size, "big") + point[1].to_bytes(SM2_P256.size, "big")


class GmsslPyxBackend:
    """:class:`~security.crypto.sm2.backends.base.SM2Backend` over ``gmssl_pyx``."""

    name = "gmssl-pyx"
    native = True
    max_plaintext: int | None = _MAX_PLAINTEXT
    supports_key_exchange = False

    def __init__(self) -> None:
        self._derive = GmsslBackend()

    def load_private(self, d: int, public: Point) -> Any:
        """Return ``(d as 32 bytes, public as 64 bytes)``."""
        return d.to_bytes(SM2_P256.size, "big"), _raw(public)

    def load_public(self, public: Point) -> Any:
        """Return the 64-byte ``x || y``."""
        return _raw(public)

    def public_from_private(self, d: int) -> Point:
        """Return ``d * G`` (pure-Python arithmetic: the extension does not expose it)."""
        return self._derive.public_from_private(d)

    def sign_digest(self, private: Any, digest: bytes) -> bytes:
        """``sm2_sign_sm3_digest``."""
        return bytes(gmssl_pyx.sm2_sign_sm3_digest(private[0], digest))

    def verify_digest(self, public: Any, digest: bytes, signature: bytes) -> bool:
        """``sm2_verify_sm3_digest``; extension errors count as an invalid signature."""
        try:
            return bool(gmssl_pyx.sm2_verify_sm3_digest(public, digest, signature))
        except gmssl_pyx.GmsslInnerError:
            return False

    def encrypt(self, public: Any, plaintext: bytes) -> bytes:
        """``sm2_encrypt`` (DER ``C1C3C2``) for 1–255 byte plaintexts."""
        if not 1 <= len(plaintext) <= _MAX_PLAINTEXT:
            raise InvalidInputError(f"gmssl-pyx encrypts 1-{_MAX_PLAINTEXT} bytes, got {len(plaintext)}")
        return bytes(gmssl_pyx.sm2_encrypt(public, plaintext))

    def decrypt(self, private: Any, ciphertext: bytes) -> bytes:
        """``sm2_decrypt``; any extension error becomes :class:`DecryptionError`."""
        try:
            return bytes(gmssl_pyx.sm2_decrypt(private[0], ciphertext))
        except gmssl_pyx.GmsslInnerError:
            raise DecryptionError("SM2 decryption failed in gmssl-pyx") from None

    def agreement_point(self, t: int, peer_public: Point, peer_ephemeral: Point, x_bar: int) -> Point:
        """Not provided by the extension."""
        raise CryptoError("gmssl-pyx has no SM2 key-agreement primitive")
