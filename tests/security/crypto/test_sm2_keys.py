"""SM2 key encodings (PEM/DER, SEC1, raw points), interoperability with tongsuopy, and bad input."""

from __future__ import annotations

import pytest
from tongsuopy.crypto import serialization as ts
from tongsuopy.crypto.asymciphers import ec

from security.crypto import InvalidKeyError, SM2PrivateKey, SM2PublicKey, sm3_hex
from security.crypto.sm2.curve import SM2_P256, encode_point
from security.crypto.sm2.encoding import pem_encode

KEY = SM2PrivateKey.generate()


def test_private_key_pem_and_der_round_trip() -> None:
    pem = KEY.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert SM2PrivateKey.from_pem(pem).scalar == KEY.scalar
    assert SM2PrivateKey.from_pem(pem.decode()).scalar == KEY.scalar
    assert SM2PrivateKey.from_der(KEY.to_der()).public_key() == KEY.public_key()
    assert SM2PrivateKey.from_bytes(KEY.to_bytes()).scalar == KEY.scalar


def test_public_key_encodings_round_trip() -> None:
    public = KEY.public_key()
    assert SM2PublicKey.from_pem(public.to_pem()) == public
    assert SM2PublicKey.from_der(public.to_der()) == public
    assert SM2PublicKey.from_bytes(public.to_bytes()) == public
    assert SM2PublicKey.from_bytes(public.to_bytes()[1:]) == public
    x, y = public.point
    compressed = bytes([2 | (y & 1)]) + x.to_bytes(32, "big")
    assert SM2PublicKey.from_bytes(compressed) == public


def test_fingerprint_is_sm3_of_subject_public_key_info() -> None:
    public = KEY.public_key()
    assert public.fingerprint() == sm3_hex(public.to_der())
    assert len({public, SM2PublicKey.from_der(public.to_der())}) == 1


def test_our_pem_loads_in_tongsuopy_and_theirs_in_ours() -> None:
    theirs = ts.load_pem_private_key(KEY.to_pem(), None)
    assert theirs.private_numbers().private_value == KEY.scalar
    generated = ec.generate_private_key(ec.SM2())
    scalar = generated.private_numbers().private_value
    for fmt in (ts.PrivateFormat.PKCS8, ts.PrivateFormat.TraditionalOpenSSL):
        pem = generated.private_bytes(ts.Encoding.PEM, fmt, ts.NoEncryption())
        assert SM2PrivateKey.from_pem(pem).scalar == scalar
    spki = generated.public_key().public_bytes(ts.Encoding.DER, ts.PublicFormat.SubjectPublicKeyInfo)
    assert SM2PublicKey.from_der(spki) == SM2PrivateKey.from_int(scalar).public_key()
    assert SM2PrivateKey.from_int(scalar).public_key().to_der() == spki


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        (b"not a key", "no PEM block"),
        (pem_encode("CERTIFICATE", b"\x30\x00"), "expected a PRIVATE KEY"),
        (pem_encode("ENCRYPTED PRIVATE KEY", b"\x30\x00"), "password-protected"),
        (b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", "base64"),
        (pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00"), "PKCS#8"),
        (pem_encode("PRIVATE KEY", b"\x30\x80\x00\x00"), "indefinite"),
    ],
)
def test_bad_private_pem_is_named(pem: bytes, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        SM2PrivateKey.from_pem(pem)


def test_a_p256_ecdsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec as crypto_ec

    nist = crypto_ec.generate_private_key(crypto_ec.SECP256R1()).public_key()
    der = nist.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InvalidKeyError, match="not an SM2 key"):
        SM2PublicKey.from_der(der)


@pytest.mark.parametrize("d", [0, SM2_P256.n - 1, SM2_P256.n, -5])
def test_out_of_range_private_scalars_are_refused(d: int) -> None:
    with pytest.raises(InvalidKeyError, match=r"\[1, n-2\]"):
        SM2PrivateKey.from_int(d)


def test_off_curve_public_key_is_refused() -> None:
    x, y = KEY.public_key().point
    with pytest.raises(InvalidKeyError, match="not a point on the curve"):
        SM2PublicKey((x, y ^ 1))
    with pytest.raises(InvalidKeyError, match="unrecognised SM2 point encoding"):
        SM2PublicKey.from_bytes(encode_point((x, y))[:-2])


def test_private_key_with_mismatched_embedded_public_key_is_refused() -> None:
    from security.crypto.sm2.encoding import private_key_to_der

    other = SM2PrivateKey.generate().public_key().point
    with pytest.raises(InvalidKeyError, match="does not match"):
        SM2PrivateKey.from_der(private_key_to_der(KEY.scalar, other))


def test_wrong_length_raw_private_key_is_named() -> None:
    with pytest.raises(InvalidKeyError, match="must be 32 bytes, got 31"):
        SM2PrivateKey.from_bytes(b"\x01" * 31)


def test_repr_shows_no_secret() -> None:
    assert hex(KEY.scalar)[2:] not in repr(KEY)
    assert str(KEY.scalar) not in repr(KEY)
