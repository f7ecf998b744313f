"""SM2 public-key cryptography (GB/T 32918): keys, signatures, encryption, key agreement."""

from security.crypto.sm2.curve import DEFAULT_UID, SM2_P256, CurveParams, Point
from security.crypto.sm2.keys import SM2PrivateKey, SM2PublicKey

__all__ = ["DEFAULT_UID", "SM2_P256", "CurveParams", "Point", "SM2PrivateKey", "SM2PublicKey"]
