"""Pure-Python backend on the ``gmssl`` package (always installed; slow: never for bulk work).

Only ``gmssl``'s point arithmetic (``CryptSM2._kg`` and friends) and its signing equation are
used. The protocol steps around them are done here because ``gmssl`` itself:

* draws nonces from :mod:`random` (Mersenne Twister, predictable) — here every nonce comes
  from :mod:`secrets`;
* does not check C3 when decrypting, nor that C1 lies on the curve — both are checked here;
* emits ``C1C2C3`` by default — this backend always produces DER ``C1C3C2``.

This backend also runs on other curves (``curve=``), which lets the GB/T 32918 examples on
their test curve exercise the same code as production keys.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from gmssl.sm2 import CryptSM2

from security.crypto.errors import CryptoError, DecryptionError
from security.crypto.sm2.ciphertext import SM2Ciphertext
from security.crypto.sm2.curve import SM2_P256, CurveParams, Point
from security.crypto.sm3 import sm3_digest, sm3_kdf


class GmsslBackend:
    """:class:`~security.crypto.sm2.backends.base.SM2Backend` over pure-Python ``gmssl``."""

    name = "gmssl"
    native = False
    max_plaintext: int | None = None
    supports_key_exchange = True

    def __init__(self, curve: CurveParams = SM2_P256) -> None:
        self.curve = curve
        width = 2 * curve.size
        self._fmt = f"%0{width}x"
        self._table = {
            "n": self._fmt % curve.n,
            "p": self._fmt % curve.p,
            "g": self._hex_point(curve.generator),
            "a": self._fmt % curve.a,
            "b": self._fmt % curve.b,
        }
        self._math = CryptSM2(private_key=None, public_key="", ecc_table=self._table, mode=1)

    def _hex_point(self, point: Point) -> str:
        return self._fmt % point[0] + self._fmt % point[1]

    def _point(self, hex_point: str | None) -> Point:
        if not hex_point:
            raise CryptoError("gmssl point arithmetic reached the point at infinity")
        half = len(hex_point) // 2
        return int(hex_point[:half], 16), int(hex_point[half:], 16)

    def _mul(self, k: int, point: Point) -> Point:
        return self._point(self._math._kg(k, self._hex_point(point)))

    def _add(self, p1: Point, p2: Point) -> Point:
        if p1 == p2:
            return self._point(self._math._convert_jacb_to_nor(self._math._double_point(self._hex_point(p1))))
        if p1[0] == p2[0]:
            raise CryptoError("gmssl point arithmetic reached the point at infinity")
        return self._point(
            self._math._convert_jacb_to_nor(self._math._add_point(self._hex_point(p1), self._hex_point(p2)))
        )

    def _nonce(self) -> int:
        return secrets.randbelow(self.curve.n - 1) + 1

    def _crypt(self, private_hex: str | None, public: Point) -> Any:
        crypt = CryptSM2(private_key=private_hex, public_key="", ecc_table=self._table, mode=1)
        # not through the constructor: it strips a "04" prefix with lstrip("04"), which also eats
        # the leading 0s and 4s of an x coordinate whose hex starts "04" (1 key in 256 then fails
        # to verify with a TypeError inside gmssl)
        crypt.public_key = self._hex_point(public)
        return crypt

    def load_private(self, d: int, public: Point) -> Any:
        """Return a ``CryptSM2`` bound to ``d`` (the public part is kept for completeness)."""
        return self._crypt(self._fmt % d, public)

    def load_public(self, public: Point) -> Any:
        """Return a ``CryptSM2`` bound to the public point."""
        return self._crypt(None, public)

    def public_from_private(self, d: int) -> Point:
        """Return ``d * G``."""
        return self._mul(d, self.curve.generator)

    def sign_digest(self, private: Any, digest: bytes) -> bytes:
        """Sign ``digest`` with a nonce from :mod:`secrets`."""
        while True:
            signature = self.sign_digest_with_nonce(private, digest, self._nonce())
            if signature is not None:
                return signature

    def sign_digest_with_nonce(self, private: Any, digest: bytes, k: int) -> bytes | None:
        """Sign with an explicit nonce ``k`` (for the standard's fixed-k examples only).

        Returns ``None`` when ``k`` yields r = 0, r + k = n or s = 0 (the caller picks another k).
        """
        raw = private.sign(digest, self._fmt % k)
        if raw is None:
            return None
        half = len(raw) // 2
        return encode_dss_signature(int(raw[:half], 16), int(raw[half:], 16))

    def verify_digest(self, public: Any, digest: bytes, signature: bytes) -> bool:
        """Verify; the caller has checked that r and s lie in [1, n-1]."""
        r, s = decode_dss_signature(signature)
        return bool(public.verify(self._fmt % r + self._fmt % s, digest))

    def encrypt(self, public: Any, plaintext: bytes) -> bytes:
        """GB/T 32918.4 clause 6.1 with a nonce from :mod:`secrets`."""
        peer = self._point(public.public_key)
        size = self.curve.size
        while True:
            k = self._nonce()
            c1 = self._mul(k, self.curve.generator)
            x2, y2 = self._mul(k, peer)
            xb, yb = x2.to_bytes(size, "big"), y2.to_bytes(size, "big")
            mask = sm3_kdf(xb + yb, len(plaintext))
            if any(mask):
                break
        c2 = bytes(m ^ t for m, t in zip(plaintext, mask, strict=True))
        return SM2Ciphertext(c1, sm3_digest(xb + plaintext + yb), c2).to_der()

    def decrypt(self, private: Any, ciphertext: bytes) -> bytes:
        """GB/T 32918.4 clause 7.1, including the C1 curve check and the C3 comparison."""
        parsed = SM2Ciphertext.from_der(ciphertext, self.curve)
        x2, y2 = self._mul(int(private.private_key, 16), parsed.c1)
        size = self.curve.size
        xb, yb = x2.to_bytes(size, "big"), y2.to_bytes(size, "big")
        mask = sm3_kdf(xb + yb, len(parsed.c2))
        if not any(mask):
            raise DecryptionError("SM2 decryption failed")
        message = bytes(c ^ t for c, t in zip(parsed.c2, mask, strict=True))
        if not hmac.compare_digest(sm3_digest(xb + message + yb), parsed.c3):
            raise DecryptionError("SM2 decryption failed: C3 does not match")
        return message

    def agreement_point(self, t: int, peer_public: Point, peer_ephemeral: Point, x_bar: int) -> Point:
        """Compute ``[t](P + [x_bar]R)`` with ``gmssl``'s point arithmetic."""
        return self._mul(t, self._add(self._mul(x_bar, peer_ephemeral), peer_public))
