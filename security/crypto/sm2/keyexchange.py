"""SM2 key agreement (GB/T 32918.3-2016 clause 6.1) with optional key confirmation.

Flow (A initiates, B responds; every value below is bytes on the wire)::

    a = SM2KeyExchange(private_key=key_a, uid=uid_a, initiator=True)
    b = SM2KeyExchange(private_key=key_b, uid=uid_b, initiator=False)
    # A -> B: a.ephemeral_public            (R_A, 65 bytes)
    res_b = b.derive(peer_public=pub_a, peer_ephemeral=R_A, peer_uid=uid_a, length=16)
    # B -> A: b.ephemeral_public, res_b.confirmation   (R_B, S_B)
    res_a = a.derive(peer_public=pub_b, peer_ephemeral=R_B, peer_uid=uid_b, length=16)
    res_a.check_peer(S_B)                   # raises KeyConfirmationError on mismatch
    # A -> B: res_a.confirmation            (S_A)
    res_b.check_peer(S_A)
    assert res_a.key == res_b.key

Confirmation is optional in the standard; skipping it leaves an attacker's tampering to be
discovered only when the derived key fails to decrypt. Each exchange object is single-use:
its ephemeral scalar is dropped after :meth:`SM2KeyExchange.derive`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from security.crypto.errors import CryptoError, InvalidInputError
from security.crypto.sm2.backends.base import SM2Backend
from security.crypto.sm2.backends.registry import backend_for, default_backend
from security.crypto.sm2.curve import (
    DEFAULT_UID,
    SM2_P256,
    CurveParams,
    Point,
    check_private_scalar,
    compute_z,
    decode_point,
    encode_point,
)
from security.crypto.sm2.keys import SM2PrivateKey, SM2PublicKey
from security.crypto.sm3 import sm3_digest, sm3_kdf


class KeyConfirmationError(CryptoError):
    """The peer's confirmation value does not match: the peers did not derive the same key."""


@dataclass(frozen=True, slots=True)
class KeyExchangeResult:
    """The outcome of one side of an exchange.

    Attributes:
        key: the shared key of the requested length.
        confirmation: this side's confirmation hash to send (S_B for the responder, S_A for the initiator).
        expected_peer_confirmation: what the peer must send (S_B seen by A as S_1, S_A seen by B as S_2).
    """

    key: bytes = field(repr=False)
    confirmation: bytes
    expected_peer_confirmation: bytes

    def check_peer(self, peer_confirmation: bytes) -> None:
        """Raise :class:`KeyConfirmationError` unless ``peer_confirmation`` is the expected value."""
        if not hmac.compare_digest(peer_confirmation, self.expected_peer_confirmation):
            raise KeyConfirmationError("SM2 key confirmation failed: the peers derived different keys")


def _x_bar(x: int, curve: CurveParams) -> int:
    w = -(-curve.n.bit_length() // 2) - 1
    return (1 << w) + (x & ((1 << w) - 1))


class SM2KeyExchange:
    """One side of an SM2 key agreement; see the module docstring for the message flow."""

    def __init__(
        self,
        *,
        private_key: SM2PrivateKey,
        initiator: bool,
        uid: bytes = DEFAULT_UID,
        backend: SM2Backend | None = None,
    ) -> None:
        self._init(
            d=private_key.scalar,
            public=private_key.public_key().point,
            initiator=initiator,
            uid=uid,
            curve=SM2_P256,
            backend=backend_for(backend or default_backend(), key_exchange=True),
            ephemeral=None,
        )

    @classmethod
    def with_parameters(
        cls,
        *,
        d: int,
        initiator: bool,
        uid: bytes,
        curve: CurveParams,
        backend: SM2Backend,
        ephemeral: int,
    ) -> SM2KeyExchange:
        """Build an exchange from explicit scalars on any curve.

        For reproducing the standard's worked example only: a fixed ephemeral scalar must never
        be used twice with real keys.
        """
        self = cls.__new__(cls)
        self._init(
            d=d,
            public=backend.public_from_private(d),
            initiator=initiator,
            uid=uid,
            curve=curve,
            backend=backend,
            ephemeral=ephemeral,
        )
        return self

    def _init(
        self,
        *,
        d: int,
        public: Point,
        initiator: bool,
        uid: bytes,
        curve: CurveParams,
        backend: SM2Backend,
        ephemeral: int | None,
    ) -> None:
        check_private_scalar(d, curve)
        self._d = d
        self._public = public
        self._initiator = initiator
        self._uid = uid
        self._curve = curve
        self._backend = backend
        self._r: int | None = ephemeral if ephemeral is not None else secrets.randbelow(curve.n - 1) + 1
        self._ephemeral = backend.public_from_private(self._r)

    @property
    def ephemeral_public(self) -> bytes:
        """This side's ephemeral point R (uncompressed, 65 bytes) to send to the peer."""
        return encode_point(self._ephemeral, self._curve)

    def derive(
        self,
        *,
        peer_public: SM2PublicKey | Point,
        peer_ephemeral: bytes,
        peer_uid: bytes = DEFAULT_UID,
        length: int = 16,
    ) -> KeyExchangeResult:
        """Derive the shared key of ``length`` bytes and both confirmation hashes (single use).

        Raises :class:`~security.crypto.errors.InvalidKeyError` if ``peer_ephemeral`` is not a
        point on the curve, :class:`InvalidInputError` for a bad length or a second call.
        """
        if not 1 <= length <= 1 << 16:
            raise InvalidInputError(f"key length must be between 1 and 65536 bytes, got {length}")
        if self._r is None:
            raise InvalidInputError("this SM2KeyExchange has already been used; create a new one")
        r, self._r = self._r, None
        curve = self._curve
        peer_point = peer_public.point if isinstance(peer_public, SM2PublicKey) else peer_public
        peer_r = decode_point(peer_ephemeral, curve)
        t = (self._d + _x_bar(self._ephemeral[0], curve) * r) % curve.n
        ux, uy = self._backend.agreement_point(t, peer_point, peer_r, _x_bar(peer_r[0], curve))

        size = curve.size
        own_z = compute_z(self._public, self._uid, curve)
        peer_z = compute_z(peer_point, peer_uid, curve)
        z_a, z_b = (own_z, peer_z) if self._initiator else (peer_z, own_z)
        r_a, r_b = (self._ephemeral, peer_r) if self._initiator else (peer_r, self._ephemeral)
        xb, yb = ux.to_bytes(size, "big"), uy.to_bytes(size, "big")

        key = sm3_kdf(xb + yb + z_a + z_b, length)
        inner = sm3_digest(xb + z_a + z_b + b"".join(c.to_bytes(size, "big") for c in (*r_a, *r_b)))
        s_responder = sm3_digest(b"\x02" + yb + inner)
        s_initiator = sm3_digest(b"\x03" + yb + inner)
        if self._initiator:
            return KeyExchangeResult(key, s_initiator, s_responder)
        return KeyExchangeResult(key, s_responder, s_initiator)
