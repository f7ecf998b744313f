"""Every installed SM2 backend against every other: signatures, ciphertexts, tampering, registry."""

from __future__ import annotations

import itertools

import pytest

from security.crypto import BackendUnavailableError, DecryptionError, SM2PrivateKey
from security.crypto.sm2.backends.base import SM2Backend
from security.crypto.sm2.backends.gmssl_backend import GmsslBackend
from security.crypto.sm2.backends.registry import (
    ENV_VAR,
    available_backends,
    backend_for,
    backend_names,
    default_backend,
    get_backend,
)
from security.crypto.sm2.ciphertext import SM2Ciphertext
from security.crypto.sm2.curve import SM2_P256
from security.crypto.sm2.encoding import signature_from_der, signature_to_der

BACKENDS = available_backends()
PAIRS = list(itertools.product(BACKENDS, repeat=2))
PAIR_IDS = [f"{a.name}->{b.name}" for a, b in PAIRS]
KEY = SM2PrivateKey.generate()
MESSAGE = b"release artefact manifest"


def test_all_three_backends_are_installed_here() -> None:
    assert [b.name for b in BACKENDS] == list(backend_names())


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_every_backend_honours_the_protocol(backend: SM2Backend) -> None:
    assert isinstance(backend, SM2Backend)
    assert backend.public_from_private(KEY.scalar) == KEY.public_key().point


@pytest.mark.parametrize(("signer", "verifier"), PAIRS, ids=PAIR_IDS)
def test_signatures_cross_verify(signer: SM2Backend, verifier: SM2Backend) -> None:
    public = KEY.public_key()
    for uid in (b"1234567812345678", b"alice@example.cn"):
        signature = KEY.sign(MESSAGE, uid=uid, backend=signer)
        assert public.verify(signature, MESSAGE, uid=uid, backend=verifier)
        assert not public.verify(signature, MESSAGE + b"!", uid=uid, backend=verifier)
    other_uid = KEY.sign(MESSAGE, uid=b"someone-else", backend=signer)
    assert not public.verify(other_uid, MESSAGE, backend=verifier)


@pytest.mark.parametrize(("encrypter", "decrypter"), PAIRS, ids=PAIR_IDS)
def test_ciphertexts_cross_decrypt(encrypter: SM2Backend, decrypter: SM2Backend) -> None:
    for plaintext in (b"k", b"a 16-byte secret", bytes(range(200))):
        ciphertext = KEY.public_key().encrypt(plaintext, backend=encrypter)
        parsed = SM2Ciphertext.from_der(ciphertext)
        assert parsed.to_der() == ciphertext
        assert len(parsed.c2) == len(plaintext)
        assert KEY.decrypt(ciphertext, backend=decrypter) == plaintext


def _tamper_c2(ct: SM2Ciphertext) -> bytes:
    return SM2Ciphertext(ct.c1, ct.c3, bytes([ct.c2[0] ^ 1]) + ct.c2[1:]).to_der()


def _tamper_c3(ct: SM2Ciphertext) -> bytes:
    return SM2Ciphertext(ct.c1, bytes([ct.c3[0] ^ 0x80]) + ct.c3[1:], ct.c2).to_der()


def _other_c1(ct: SM2Ciphertext) -> bytes:
    return SM2Ciphertext(SM2_P256.generator, ct.c3, ct.c2).to_der()


def _off_curve_c1(ct: SM2Ciphertext) -> bytes:
    from security.crypto import asn1

    x, y = ct.c1
    return asn1.sequence(
        asn1.integer(x), asn1.integer(y ^ 1), asn1.octet_string(ct.c3), asn1.octet_string(ct.c2)
    )


def _truncated_c2(ct: SM2Ciphertext) -> bytes:
    return SM2Ciphertext(ct.c1, ct.c3, ct.c2[:-1]).to_der()


def _trailing_byte(ct: SM2Ciphertext) -> bytes:
    return ct.to_der() + b"\x00"


def _long_form_length(ct: SM2Ciphertext) -> bytes:
    der = ct.to_der()
    body = der[2:] if der[1] < 0x80 else der[3:]
    return b"\x30\x82" + len(body).to_bytes(2, "big") + body


def _raw_instead_of_der(ct: SM2Ciphertext) -> bytes:
    return ct.to_raw()


TAMPERINGS = [
    _tamper_c2,
    _tamper_c3,
    _other_c1,
    _off_curve_c1,
    _truncated_c2,
    _trailing_byte,
    _long_form_length,
    _raw_instead_of_der,
]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__.strip("_"))
def test_tampered_ciphertexts_are_rejected(backend: SM2Backend, tamper: object) -> None:
    ciphertext = SM2Ciphertext.from_der(KEY.public_key().encrypt(b"wrapped data key", backend=backend))
    assert callable(tamper)
    with pytest.raises(DecryptionError):
        KEY.decrypt(tamper(ciphertext), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
def test_ciphertext_for_another_key_is_rejected(backend: SM2Backend) -> None:
    other = SM2PrivateKey.generate()
    with pytest.raises(DecryptionError):
        KEY.decrypt(other.public_key().encrypt(b"not for you"), backend=backend)


def _high_s(sig: bytes) -> bytes:
    r, s = signature_from_der(sig)
    return signature_to_der(r, s + SM2_P256.n)


def _zero_r(sig: bytes) -> bytes:
    return signature_to_der(0, signature_from_der(sig)[1])


def _swapped(sig: bytes) -> bytes:
    r, s = signature_from_der(sig)
    return signature_to_der(s, r)


def _padded_integer(sig: bytes) -> bytes:
    from security.crypto import asn1

    r, s = signature_from_der(sig)
    raw_r = b"\x00\x00" + r.to_bytes(32, "big")
    return asn1.sequence(asn1.tlv(asn1.INTEGER, raw_r), asn1.integer(s))


BAD_SIGNATURES = [
    _high_s,
    _zero_r,
    _swapped,
    _padded_integer,
    lambda sig: sig[:-1],
    lambda sig: sig + b"\x00",
    lambda sig: b"",
    lambda sig: b"\x30\x00",
    lambda sig: bytes(64),
]


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("mangle", BAD_SIGNATURES)
def test_bad_signatures_verify_false_without_raising(backend: SM2Backend, mangle: object) -> None:
    signature = KEY.sign(MESSAGE)
    assert callable(mangle)
    assert not KEY.public_key().verify(mangle(signature), MESSAGE, backend=backend)


def test_gmssl_pyx_long_plaintexts_go_to_a_capable_backend() -> None:
    pyx = get_backend("gmssl-pyx")
    assert backend_for(pyx, plaintext_length=255) is pyx
    assert backend_for(pyx, plaintext_length=256).name == "tongsuopy"
    assert backend_for(pyx, key_exchange=True).name == "tongsuopy"
    long_plaintext = bytes(range(256)) * 3
    ciphertext = KEY.public_key().encrypt(long_plaintext, backend=pyx)
    assert KEY.decrypt(ciphertext, backend=pyx) == long_plaintext


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "tongsuopy"),
        ({ENV_VAR: ""}, "tongsuopy"),
        ({ENV_VAR: "gmssl"}, "gmssl"),
        ({ENV_VAR: " gmssl-pyx "}, "gmssl-pyx"),
    ],
)
def test_default_backend_prefers_native_and_honours_the_setting(
    environ: dict[str, str], expected: str
) -> None:
    assert default_backend(environ).name == expected


def test_unknown_forced_backend_is_named() -> None:
    with pytest.raises(BackendUnavailableError, match="unknown SM2 backend 'openssl-sm2'"):
        default_backend({ENV_VAR: "openssl-sm2"})


def test_gmssl_verifies_for_a_public_key_whose_hex_starts_with_04() -> None:
    """gmssl's constructor strips a leading "04" with ``lstrip``; d = 11 gives x = 0x04b3…, which
    it truncated, so every verification with that key raised a TypeError inside gmssl."""
    gmssl = GmsslBackend()
    x, _ = gmssl.public_from_private(11)
    assert f"{x:064x}".startswith("04")
    key = SM2PrivateKey.from_int(11)
    message = b"x" * 32
    signature = key.sign(message, backend=gmssl)
    assert key.public_key().verify(signature, message, backend=gmssl)
    assert not key.public_key().verify(signature, b"y" * 32, backend=gmssl)
