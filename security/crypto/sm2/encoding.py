"""DER and PEM encodings of SM2 keys and signatures.

Public keys: X.509 SubjectPublicKeyInfo with ``id-ecPublicKey`` and the SM2 curve OID
``1.2.156.10197.1.301`` (GM/T 0010). Private keys: PKCS#8 on output; PKCS#8 or SEC1
``EC PRIVATE KEY`` on input (what ``openssl``/``tongsuo`` and GmSSL write). Password-
protected PKCS#8 is not read: keep such keys in the KMS or a hardware provider.
"""

from __future__ import annotations

import base64
import re

from security.crypto import asn1
from security.crypto.errors import InvalidInputError, InvalidKeyError
from security.crypto.sm2.curve import SM2_P256, Point, decode_point, encode_point

OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SM2_CURVE = "1.2.156.10197.1.301"

_ALGORITHM = asn1.sequence(asn1.oid(OID_EC_PUBLIC_KEY), asn1.oid(OID_SM2_CURVE))
_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def pem_encode(label: str, der: bytes) -> bytes:
    """Wrap DER in a PEM block with 64-column base64 lines."""
    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        b"-----BEGIN "
        + label.encode()
        + b"-----\n"
        + b"\n".join(lines)
        + b"\n-----END "
        + label.encode()
        + b"-----\n"
    )


def pem_decode(data: bytes | str, labels: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """Return ``(label, der)`` of the first PEM block, or of the first whose label is in ``labels``.

    Other blocks (such as the ``SM2 PARAMETERS`` that ``openssl ecparam`` writes first) are
    skipped. Raise :class:`InvalidKeyError` if there is no such block.
    """
    raw = data.encode() if isinstance(data, str) else data
    blocks = list(_PEM_RE.finditer(raw))
    if not blocks:
        raise InvalidKeyError("no PEM block found")
    match = next((m for m in blocks if m.group(1).decode() in labels), blocks[0]) if labels else blocks[0]
    try:
        der = base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except ValueError:
        raise InvalidKeyError("PEM body is not valid base64") from None
    return match.group(1).decode(), der


def public_key_to_der(point: Point) -> bytes:
    """Encode a public point as SubjectPublicKeyInfo DER."""
    return asn1.sequence(_ALGORITHM, asn1.bit_string(encode_point(point)))


def _check_algorithm(element: asn1.Element, what: str) -> None:
    asn1.expect(element, asn1.SEQUENCE, what)
    parts = asn1.read_all(element.value)
    oids = [asn1.parse_oid(p, what) for p in parts]
    if oids != [OID_EC_PUBLIC_KEY, OID_SM2_CURVE] and oids != [OID_SM2_CURVE]:
        raise InvalidKeyError(f"{what}: not an SM2 key (algorithm {'/'.join(oids)})")


def public_key_from_der(der: bytes) -> Point:
    """Decode SubjectPublicKeyInfo DER of an SM2 key; raise :class:`InvalidKeyError` if it is not one."""
    try:
        outer = asn1.read_single(der, asn1.SEQUENCE, "SubjectPublicKeyInfo")
        parts = asn1.read_all(outer.value)
        if len(parts) != 2:
            raise InvalidKeyError("SubjectPublicKeyInfo must have 2 fields")
        _check_algorithm(parts[0], "SubjectPublicKeyInfo algorithm")
        return decode_point(asn1.parse_bit_string(parts[1], "SubjectPublicKeyInfo key"))
    except asn1.DerError as exc:
        raise InvalidKeyError(str(exc)) from None


def _ec_private_key(d: int, public: Point) -> bytes:
    return asn1.sequence(
        asn1.integer(1),
        asn1.octet_string(d.to_bytes(SM2_P256.size, "big")),
        asn1.tlv(asn1.context(0), asn1.oid(OID_SM2_CURVE)),
        asn1.tlv(asn1.context(1), asn1.bit_string(encode_point(public))),
    )


def private_key_to_der(d: int, public: Point) -> bytes:
    """Encode as unencrypted PKCS#8 ``PrivateKeyInfo`` DER (with the public key inside)."""
    return asn1.sequence(asn1.integer(0), _ALGORITHM, asn1.octet_string(_ec_private_key(d, public)))


def _parse_ec_private_key(der: bytes) -> tuple[int, Point | None]:
    outer = asn1.read_single(der, asn1.SEQUENCE, "ECPrivateKey")
    parts = asn1.read_all(outer.value)
    if len(parts) < 2 or asn1.parse_integer(parts[0], "ECPrivateKey version") != 1:
        raise InvalidKeyError("ECPrivateKey must start with version 1 and the private key")
    asn1.expect(parts[1], asn1.OCTET_STRING, "ECPrivateKey privateKey")
    d = int.from_bytes(parts[1].value, "big")
    public: Point | None = None
    for part in parts[2:]:
        if part.tag == asn1.context(0):
            inner = asn1.read_single(part.value, asn1.OBJECT_IDENTIFIER, "ECPrivateKey parameters")
            if asn1.parse_oid(inner, "ECPrivateKey parameters") != OID_SM2_CURVE:
                raise InvalidKeyError("ECPrivateKey is not on the SM2 curve")
        elif part.tag == asn1.context(1):
            bits = asn1.read_single(part.value, asn1.BIT_STRING, "ECPrivateKey publicKey")
            public = decode_point(asn1.parse_bit_string(bits, "ECPrivateKey publicKey"))
        else:
            raise InvalidKeyError(f"ECPrivateKey: unexpected field tag 0x{part.tag:02x}")
    return d, public


def private_key_from_der(der: bytes) -> tuple[int, Point | None]:
    """Decode PKCS#8 or SEC1 DER; return the scalar and the embedded public point if present."""
    try:
        outer = asn1.read_single(der, asn1.SEQUENCE, "private key")
        parts = asn1.read_all(outer.value)
        if parts and parts[0].tag == asn1.INTEGER and parts[0].value == b"\x01":
            return _parse_ec_private_key(der)
        if len(parts) < 3 or asn1.parse_integer(parts[0], "PKCS#8 version") not in (0, 1):
            raise InvalidKeyError("not a PKCS#8 PrivateKeyInfo")
        _check_algorithm(parts[1], "PKCS#8 algorithm")
        asn1.expect(parts[2], asn1.OCTET_STRING, "PKCS#8 privateKey")
        return _parse_ec_private_key(parts[2].value)
    except asn1.DerError as exc:
        raise InvalidKeyError(str(exc)) from None


def signature_to_der(r: int, s: int) -> bytes:
    """Encode ``SEQUENCE { r INTEGER, s INTEGER }``."""
    return asn1.sequence(asn1.integer(r), asn1.integer(s))


def signature_from_der(der: bytes) -> tuple[int, int]:
    """Decode a strict DER signature; raise :class:`InvalidInputError` if malformed."""
    outer = asn1.read_single(der, asn1.SEQUENCE, "SM2 signature")
    parts = asn1.read_all(outer.value)
    if len(parts) != 2:
        raise InvalidInputError("SM2 signature must hold exactly r and s")
    return asn1.parse_integer(parts[0], "signature r"), asn1.parse_integer(parts[1], "signature s")
