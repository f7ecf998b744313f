"""SM2 key objects: signing and verification (GB/T 32918.2), encryption (GB/T 32918.4), PEM/DER.

A key holds its scalar or point and computes with a backend chosen at call time
(:func:`~security.crypto.sm2.backends.registry.default_backend` unless one is passed),
caching one native handle per backend. Signatures are DER ``(r, s)`` over
``e = SM3(Z || M)`` with ``Z`` from the signer ID (default ``1234567812345678``);
ciphertexts are DER ``C1C3C2``.
"""

from __future__ import annotations

import secrets
from typing import Any

from security.crypto.errors import DecryptionError, InvalidInputError, InvalidKeyError
from security.crypto.sm2 import encoding
from security.crypto.sm2.backends.base import SM2Backend
from security.crypto.sm2.backends.registry import backend_for, default_backend
from security.crypto.sm2.ciphertext import SM2Ciphertext
from security.crypto.sm2.curve import (
    DEFAULT_UID,
    SM2_P256,
    Point,
    check_private_scalar,
    check_public_point,
    compute_z,
    decode_point,
    encode_point,
)
from security.crypto.sm3 import sm3_digest, sm3_hex

_DIGEST_SIZE = 32


class SM2PublicKey:
    """An SM2 public key on the recommended curve. Equal keys compare and hash equal."""

    __slots__ = ("_backend", "_der", "_handles", "_point", "_z_cache")

    def __init__(self, point: Point, *, backend: SM2Backend | None = None) -> None:
        check_public_point(point)
        self._point = point
        self._backend = backend
        self._handles: dict[str, Any] = {}
        self._z_cache: dict[bytes, bytes] = {}
        self._der: bytes | None = None

    # -- construction and encoding -------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, backend: SM2Backend | None = None) -> SM2PublicKey:
        """Load ``04||x||y``, raw ``x||y`` (64 bytes) or compressed ``02/03||x``."""
        return cls(decode_point(data), backend=backend)

    @classmethod
    def from_der(cls, der: bytes, *, backend: SM2Backend | None = None) -> SM2PublicKey:
        """Load a SubjectPublicKeyInfo DER."""
        return cls(encoding.public_key_from_der(der), backend=backend)

    @classmethod
    def from_pem(cls, pem: bytes | str, *, backend: SM2Backend | None = None) -> SM2PublicKey:
        """Load a ``PUBLIC KEY`` PEM block."""
        label, der = encoding.pem_decode(pem, ("PUBLIC KEY",))
        if label != "PUBLIC KEY":
            raise InvalidKeyError(f"expected a PUBLIC KEY PEM block, found {label!r}")
        return cls.from_der(der, backend=backend)

    @property
    def point(self) -> Point:
        """The affine point ``(x, y)``."""
        return self._point

    def to_bytes(self) -> bytes:
        """The 65-byte uncompressed encoding ``04 || x || y``."""
        return encode_point(self._point)

    def to_der(self) -> bytes:
        """SubjectPublicKeyInfo DER."""
        if self._der is None:
            self._der = encoding.public_key_to_der(self._point)
        return self._der

    def to_pem(self) -> bytes:
        """``PUBLIC KEY`` PEM."""
        return encoding.pem_encode("PUBLIC KEY", self.to_der())

    def fingerprint(self) -> str:
        """SM3 hex digest of the SubjectPublicKeyInfo DER."""
        return sm3_hex(self.to_der())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"SM2PublicKey(fingerprint={self.fingerprint()[:16]}...)"

    # -- operations ----------------------------------------------------------------------
    def z(self, uid: bytes = DEFAULT_UID) -> bytes:
        """Z for this key and signer ID (cached)."""
        cached = self._z_cache.get(uid)
        if cached is None:
            cached = self._z_cache[uid] = compute_z(self._point, uid)
        return cached

    def message_digest(self, data: bytes, *, uid: bytes = DEFAULT_UID) -> bytes:
        """``e = SM3(Z || data)``, the value a signature by this key's owner signs."""
        return sm3_digest(self.z(uid) + data)

    def _handle(self, backend: SM2Backend) -> Any:
        handle = self._handles.get(backend.name)
        if handle is None:
            handle = self._handles[backend.name] = backend.load_public(self._point)
        return handle

    def _pick(self, backend: SM2Backend | None) -> SM2Backend:
        return backend or self._backend or default_backend()

    def verify(
        self, signature: bytes, data: bytes, *, uid: bytes = DEFAULT_UID, backend: SM2Backend | None = None
    ) -> bool:
        """Return whether ``signature`` (DER) is this key's signature of ``data`` under ``uid``.

        Returns ``False`` for any mismatch or malformed signature; never raises for one.
        """
        return self.verify_digest(signature, self.message_digest(data, uid=uid), backend=backend)

    def verify_digest(self, signature: bytes, digest: bytes, *, backend: SM2Backend | None = None) -> bool:
        """Like :meth:`verify` for a precomputed ``e = SM3(Z || M)``."""
        if len(digest) != _DIGEST_SIZE:
            raise InvalidInputError(f"SM2 digest must be {_DIGEST_SIZE} bytes, got {len(digest)}")
        try:
            r, s = encoding.signature_from_der(signature)
        except InvalidInputError:
            return False
        if not (1 <= r < SM2_P256.n and 1 <= s < SM2_P256.n):
            return False
        chosen = self._pick(backend)
        return chosen.verify_digest(self._handle(chosen), digest, signature)

    def encrypt(self, plaintext: bytes, *, backend: SM2Backend | None = None) -> bytes:
        """Encrypt to DER ``C1C3C2`` (GB/T 32918.4). Meant for short secrets such as keys."""
        if not plaintext:
            raise InvalidInputError("SM2 cannot encrypt an empty plaintext")
        chosen = backend_for(self._pick(backend), plaintext_length=len(plaintext))
        return chosen.encrypt(self._handle(chosen), plaintext)


class SM2PrivateKey:
    """An SM2 private key on the recommended curve; :meth:`public_key` gives its public half."""

    __slots__ = ("_backend", "_d", "_handles", "_public")

    def __init__(self, d: int, *, public: Point | None = None, backend: SM2Backend | None = None) -> None:
        check_private_scalar(d)
        self._d = d
        self._backend = backend
        derived = (backend or default_backend()).public_from_private(d)
        if public is not None and public != derived:
            raise InvalidKeyError("the embedded public key does not match the private key")
        self._public = SM2PublicKey(derived, backend=backend)
        self._handles: dict[str, Any] = {}

    # -- construction and encoding -------------------------------------------------------
    @classmethod
    def generate(cls, *, backend: SM2Backend | None = None) -> SM2PrivateKey:
        """A new key with ``d`` drawn uniformly from [1, n-2] by :mod:`secrets`."""
        return cls(secrets.randbelow(SM2_P256.n - 2) + 1, backend=backend)

    @classmethod
    def from_int(cls, d: int, *, backend: SM2Backend | None = None) -> SM2PrivateKey:
        """Load a scalar."""
        return cls(d, backend=backend)

    @classmethod
    def from_bytes(cls, data: bytes, *, backend: SM2Backend | None = None) -> SM2PrivateKey:
        """Load a 32-byte big-endian scalar."""
        if len(data) != SM2_P256.size:
            raise InvalidKeyError(f"SM2 private key must be {SM2_P256.size} bytes, got {len(data)}")
        return cls(int.from_bytes(data, "big"), backend=backend)

    @classmethod
    def from_der(cls, der: bytes, *, backend: SM2Backend | None = None) -> SM2PrivateKey:
        """Load PKCS#8 or SEC1 DER; an embedded public key must match."""
        d, public = encoding.private_key_from_der(der)
        return cls(d, public=public, backend=backend)

    @classmethod
    def from_pem(cls, pem: bytes | str, *, backend: SM2Backend | None = None) -> SM2PrivateKey:
        """Load a ``PRIVATE KEY`` (PKCS#8) or ``EC PRIVATE KEY`` (SEC1) PEM block."""
        label, der = encoding.pem_decode(pem, ("PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
        if label == "ENCRYPTED PRIVATE KEY":
            raise InvalidKeyError("password-protected private keys are not supported; decrypt it first")
        if label not in ("PRIVATE KEY", "EC PRIVATE KEY"):
            raise InvalidKeyError(f"expected a PRIVATE KEY PEM block, found {label!r}")
        return cls.from_der(der, backend=backend)

    def to_bytes(self) -> bytes:
        """The 32-byte big-endian scalar."""
        return self._d.to_bytes(SM2_P256.size, "big")

    def to_der(self) -> bytes:
        """Unencrypted PKCS#8 DER."""
        return encoding.private_key_to_der(self._d, self._public.point)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 ``PRIVATE KEY`` PEM (protect the file: mode 0600)."""
        return encoding.pem_encode("PRIVATE KEY", self.to_der())

    def public_key(self) -> SM2PublicKey:
        """The matching public key."""
        return self._public

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self._public.fingerprint()[:16]}...)"

    @property
    def scalar(self) -> int:
        """The secret scalar ``d`` (for key agreement and providers; do not log it)."""
        return self._d

    # -- operations ----------------------------------------------------------------------
    def _pick(self, backend: SM2Backend | None) -> SM2Backend:
        return backend or self._backend or default_backend()

    def _handle(self, backend: SM2Backend) -> Any:
        handle = self._handles.get(backend.name)
        if handle is None:
            handle = self._handles[backend.name] = backend.load_private(self._d, self._public.point)
        return handle

    def sign(self, data: bytes, *, uid: bytes = DEFAULT_UID, backend: SM2Backend | None = None) -> bytes:
        """Sign ``data`` as the holder of ``uid``; return DER ``(r, s)``."""
        return self.sign_digest(self._public.message_digest(data, uid=uid), backend=backend)

    def sign_digest(self, digest: bytes, *, backend: SM2Backend | None = None) -> bytes:
        """Sign a precomputed ``e = SM3(Z || M)`` (see :meth:`SM2PublicKey.message_digest`)."""
        if len(digest) != _DIGEST_SIZE:
            raise InvalidInputError(f"SM2 digest must be {_DIGEST_SIZE} bytes, got {len(digest)}")
        chosen = self._pick(backend)
        return chosen.sign_digest(self._handle(chosen), digest)

    def decrypt(self, ciphertext: bytes, *, backend: SM2Backend | None = None) -> bytes:
        """Decrypt DER ``C1C3C2``; raise :class:`DecryptionError` if malformed or tampered."""
        parsed = SM2Ciphertext.from_der(ciphertext)
        if parsed.to_der() != ciphertext:
            raise DecryptionError("SM2 ciphertext is not canonical DER")
        chosen = backend_for(self._pick(backend), plaintext_length=len(parsed.c2))
        return chosen.decrypt(self._handle(chosen), ciphertext)
