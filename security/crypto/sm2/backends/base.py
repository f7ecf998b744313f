"""The protocol every SM2 backend implements.

Backends work on digests and raw key material; the hashing of the message with the signer
identity (Z), DER validation and backend selection live above them in
:mod:`security.crypto.sm2.keys`, so every backend signs exactly the same value and the
backends can be checked against one another.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from security.crypto.sm2.curve import Point


@runtime_checkable
class SM2Backend(Protocol):
    """SM2 primitives over the recommended curve.

    Attributes:
        name: the registry name (also the value of ``STIC_CRYPTO_SM2_BACKEND``).
        native: whether the arithmetic runs in compiled code (fit for request paths).
        max_plaintext: the longest plaintext :meth:`encrypt` accepts, or ``None`` for no limit.
        supports_key_exchange: whether :meth:`agreement_point` is available.

    Handles returned by ``load_*`` are opaque and only valid with the backend that made them.
    """

    name: str
    native: bool
    max_plaintext: int | None
    supports_key_exchange: bool

    def load_private(self, d: int, public: Point) -> Any:
        """Return a private-key handle for scalar ``d`` whose public point is ``public``."""
        ...

    def load_public(self, public: Point) -> Any:
        """Return a public-key handle; ``public`` has already been checked to lie on the curve."""
        ...

    def public_from_private(self, d: int) -> Point:
        """Return ``d * G``."""
        ...

    def sign_digest(self, private: Any, digest: bytes) -> bytes:
        """Sign the 32-byte ``e = SM3(Z || M)`` with a fresh secret nonce; return DER ``(r, s)``."""
        ...

    def verify_digest(self, public: Any, digest: bytes, signature: bytes) -> bool:
        """Return whether canonical DER ``signature`` is valid for ``digest``; never raise for a bad one."""
        ...

    def encrypt(self, public: Any, plaintext: bytes) -> bytes:
        """Encrypt to DER ``C1C3C2`` with a fresh ephemeral key."""
        ...

    def decrypt(self, private: Any, ciphertext: bytes) -> bytes:
        """Decrypt DER ``C1C3C2``; raise :class:`~security.crypto.errors.DecryptionError` if C3 fails."""
        ...

    def agreement_point(self, t: int, peer_public: Point, peer_ephemeral: Point, x_bar: int) -> Point:
        """Return ``U = [t](P_peer + [x_bar] R_peer)`` (GB/T 32918.3 clause 6.1 steps A7/B5; h = 1)."""
        ...
