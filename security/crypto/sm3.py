"""SM3 hash (GB/T 32905-2016), HMAC-SM3 and the SM3 key-derivation function.

Hashing and HMAC run through ``cryptography`` (OpenSSL), which is the fast path for bulk
data. :func:`sm3_kdf` is the KDF of GB/T 32918.3/.4 clause 5.4.3 used by SM2 encryption
and key exchange.
"""

from __future__ import annotations

import hmac as _hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac

DIGEST_SIZE = 32
"""Length of an SM3 digest in bytes."""


def sm3_digest(data: bytes) -> bytes:
    """Return the 32-byte SM3 digest of ``data``."""
    hasher = hashes.Hash(hashes.SM3())
    hasher.update(data)
    return hasher.finalize()


def sm3_hex(data: bytes) -> str:
    """Return the SM3 digest of ``data`` as 64 lowercase hex characters."""
    return sm3_digest(data).hex()


class SM3Hasher:
    """Incremental SM3: ``update`` any number of times, then ``digest`` once."""

    def __init__(self) -> None:
        self._hash = hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        """Feed ``data`` into the hash."""
        self._hash.update(data)

    def digest(self) -> bytes:
        """Finish and return the 32-byte digest; the hasher cannot be used afterwards."""
        return self._hash.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """Return HMAC-SM3(key, data) (RFC 2104 construction over SM3), 32 bytes."""
    mac = _crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def hmac_sm3_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """Return whether ``tag`` is HMAC-SM3(key, data), compared in constant time."""
    return _hmac.compare_digest(hmac_sm3(key, data), tag)


def sm3_kdf(z: bytes, length: int) -> bytes:
    """Derive ``length`` bytes from the shared secret ``z`` with the SM3 KDF (GB/T 32918.4 5.4.3).

    ``K = SM3(Z || ct=1) || SM3(Z || ct=2) || ...`` truncated to ``length`` bytes, where ``ct``
    is a 32-bit big-endian counter.
    """
    if length < 0:
        raise ValueError(f"KDF output length must be non-negative, got {length}")
    blocks = []
    for counter in range(1, -(-length // DIGEST_SIZE) + 1):
        blocks.append(sm3_digest(z + counter.to_bytes(4, "big")))
    return b"".join(blocks)[:length]
