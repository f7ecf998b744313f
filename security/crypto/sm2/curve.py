"""SM2 curve parameters, point encoding and validation, and the signer-identity hash Z.

The recommended curve is the one of GB/T 32918.5-2017 (``sm2p256v1``). Curve parameters
are a value object so the published examples of GB/T 32918.2/.3, which use a separate
256-bit test curve, can run through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

from security.crypto.errors import InvalidKeyError
from security.crypto.sm3 import sm3_digest

DEFAULT_UID = b"1234567812345678"
"""Default signer identity (GM/T 0009-2012 clause 10): ``1234567812345678`` in ASCII."""

Point = tuple[int, int]
"""An affine point ``(x, y)``; the point at infinity is never a valid key or ciphertext point."""


@dataclass(frozen=True, slots=True)
class CurveParams:
    """Short-Weierstrass curve ``y^2 = x^3 + ax + b (mod p)`` with base point G of order n."""

    name: str
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int

    @property
    def size(self) -> int:
        """Length in bytes of a field element or scalar."""
        return (self.p.bit_length() + 7) // 8

    @property
    def generator(self) -> Point:
        """The base point G."""
        return (self.gx, self.gy)


SM2_P256 = CurveParams(
    name="sm2p256v1",
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
"""The SM2 recommended curve (GB/T 32918.5-2017), the only curve used for real keys."""


def is_on_curve(point: Point, curve: CurveParams = SM2_P256) -> bool:
    """Return whether ``point`` has coordinates in [0, p) and satisfies the curve equation."""
    x, y = point
    if not (0 <= x < curve.p and 0 <= y < curve.p):
        return False
    return (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p == 0


def check_private_scalar(d: int, curve: CurveParams = SM2_P256) -> None:
    """Raise :class:`InvalidKeyError` unless ``1 <= d <= n - 2`` (GB/T 32918.1 clause 6.1)."""
    if not 1 <= d <= curve.n - 2:
        raise InvalidKeyError("SM2 private key must be in [1, n-2]")


def check_public_point(point: Point, curve: CurveParams = SM2_P256) -> None:
    """Raise :class:`InvalidKeyError` unless ``point`` is a finite point on the curve."""
    if not is_on_curve(point, curve):
        raise InvalidKeyError("SM2 public key is not a point on the curve")


def encode_point(point: Point, curve: CurveParams = SM2_P256) -> bytes:
    """Return the uncompressed SEC1 encoding ``04 || x || y``."""
    size = curve.size
    return b"\x04" + point[0].to_bytes(size, "big") + point[1].to_bytes(size, "big")


def decode_point(data: bytes, curve: CurveParams = SM2_P256) -> Point:
    """Parse an uncompressed (``04||x||y``), raw (``x||y``) or compressed (``02/03||x``) point.

    Raises :class:`InvalidKeyError` if the encoding is malformed or the point is not on the curve.
    """
    size = curve.size
    if len(data) == 2 * size + 1 and data[0] == 4:
        point = (int.from_bytes(data[1 : size + 1], "big"), int.from_bytes(data[size + 1 :], "big"))
    elif len(data) == 2 * size:
        point = (int.from_bytes(data[:size], "big"), int.from_bytes(data[size:], "big"))
    elif len(data) == size + 1 and data[0] in (2, 3):
        point = _decompress(int.from_bytes(data[1:], "big"), data[0] & 1, curve)
    else:
        raise InvalidKeyError(f"unrecognised SM2 point encoding ({len(data)} bytes)")
    check_public_point(point, curve)
    return point


def _decompress(x: int, y_parity: int, curve: CurveParams) -> Point:
    if curve.p % 4 != 3:
        raise InvalidKeyError(f"compressed points are not supported on curve {curve.name}")
    rhs = (x * x * x + curve.a * x + curve.b) % curve.p
    y = pow(rhs, (curve.p + 1) // 4, curve.p)
    if y * y % curve.p != rhs:
        raise InvalidKeyError("compressed SM2 point has no square root: not on the curve")
    if y & 1 != y_parity:
        y = curve.p - y
    return (x, y)


def compute_z(public: Point, uid: bytes = DEFAULT_UID, curve: CurveParams = SM2_P256) -> bytes:
    """Return Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GB/T 32918.2 clause 5.5).

    ``uid`` is the signer's distinguishing identifier; its bit length must fit in 16 bits.
    """
    bit_length = len(uid) * 8
    if bit_length > 0xFFFF:
        raise InvalidKeyError(f"SM2 user ID is too long ({len(uid)} bytes; at most 8191)")
    size = curve.size
    fields = (curve.a, curve.b, curve.gx, curve.gy, public[0], public[1])
    material = bit_length.to_bytes(2, "big") + uid + b"".join(f.to_bytes(size, "big") for f in fields)
    return sm3_digest(material)


def message_digest(public: Point, message: bytes, uid: bytes = DEFAULT_UID, z: bytes | None = None) -> bytes:
    """Return e = SM3(Z || M), the value an SM2 signature actually signs (pass ``z`` if cached)."""
    return sm3_digest((z if z is not None else compute_z(public, uid)) + message)
