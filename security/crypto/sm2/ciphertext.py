"""SM2 ciphertext encodings: DER ``C1C3C2`` (GM/T 0009-2012 clause 7.2) and raw byte layouts.

DER is the interchange format of this package. The raw layouts ``04||C1 C3 C2`` (standard
order) and ``04||C1 C2 C3`` (the old order, and the default of the ``gmssl`` package) are
converted here for interoperability with systems that emit them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from security.crypto import asn1
from security.crypto.errors import DecryptionError
from security.crypto.sm2.curve import SM2_P256, CurveParams, Point, is_on_curve

HASH_SIZE = 32


@dataclass(frozen=True, slots=True)
class SM2Ciphertext:
    """The parts of an SM2 ciphertext: C1 (ephemeral point), C3 (SM3 check), C2 (masked message)."""

    c1: Point
    c3: bytes
    c2: bytes

    def to_der(self) -> bytes:
        """Encode as ``SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }``."""
        return asn1.sequence(
            asn1.integer(self.c1[0]),
            asn1.integer(self.c1[1]),
            asn1.octet_string(self.c3),
            asn1.octet_string(self.c2),
        )

    @classmethod
    def from_der(cls, data: bytes, curve: CurveParams = SM2_P256) -> SM2Ciphertext:
        """Parse strict DER; raise :class:`DecryptionError` if malformed or C1 is not on the curve."""
        try:
            outer = asn1.read_single(data, asn1.SEQUENCE, "SM2 ciphertext")
            parts = asn1.read_all(outer.value)
            if len(parts) != 4:
                raise asn1.DerError(f"SM2 ciphertext: expected 4 fields, found {len(parts)}")
            x = asn1.parse_integer(parts[0], "SM2 ciphertext C1.x")
            y = asn1.parse_integer(parts[1], "SM2 ciphertext C1.y")
            asn1.expect(parts[2], asn1.OCTET_STRING, "SM2 ciphertext C3")
            asn1.expect(parts[3], asn1.OCTET_STRING, "SM2 ciphertext C2")
        except asn1.DerError as exc:
            raise DecryptionError(f"malformed SM2 ciphertext: {exc}") from None
        return cls._checked((x, y), parts[2].value, parts[3].value, curve)

    def to_raw(self, order: Literal["C1C3C2", "C1C2C3"] = "C1C3C2", curve: CurveParams = SM2_P256) -> bytes:
        """Encode as ``04 || x || y`` followed by C3 and C2 in the given order."""
        size = curve.size
        c1 = b"\x04" + self.c1[0].to_bytes(size, "big") + self.c1[1].to_bytes(size, "big")
        return c1 + (self.c3 + self.c2 if order == "C1C3C2" else self.c2 + self.c3)

    @classmethod
    def from_raw(
        cls, data: bytes, order: Literal["C1C3C2", "C1C2C3"] = "C1C3C2", curve: CurveParams = SM2_P256
    ) -> SM2Ciphertext:
        """Parse a raw layout; the leading ``04`` of C1 is optional (``gmssl`` omits it)."""
        size = curve.size
        if len(data) % 2 == 1 and data[:1] == b"\x04":
            data = data[1:]
        if len(data) < 2 * size + HASH_SIZE + 1:
            raise DecryptionError("raw SM2 ciphertext is too short")
        point = (int.from_bytes(data[:size], "big"), int.from_bytes(data[size : 2 * size], "big"))
        rest = data[2 * size :]
        if order == "C1C3C2":
            c3, c2 = rest[:HASH_SIZE], rest[HASH_SIZE:]
        else:
            c2, c3 = rest[:-HASH_SIZE], rest[-HASH_SIZE:]
        return cls._checked(point, c3, c2, curve)

    @classmethod
    def _checked(cls, c1: Point, c3: bytes, c2: bytes, curve: CurveParams) -> SM2Ciphertext:
        if not is_on_curve(c1, curve):
            raise DecryptionError("SM2 ciphertext C1 is not a point on the curve")
        if len(c3) != HASH_SIZE:
            raise DecryptionError(f"SM2 ciphertext C3 must be {HASH_SIZE} bytes, got {len(c3)}")
        if not c2:
            raise DecryptionError("SM2 ciphertext C2 is empty")
        return cls(c1, c3, c2)
