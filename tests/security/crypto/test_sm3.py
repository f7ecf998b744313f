"""SM3 (GB/T 32905-2016 Annex A), HMAC-SM3 and the SM3 KDF, checked against independent implementations."""

from __future__ import annotations

import gmssl.sm3 as pure_sm3
import pytest

from security.crypto import SM3Hasher, hmac_sm3, hmac_sm3_verify, sm3_digest, sm3_hex, sm3_kdf


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
    ids=["A.1-abc", "A.2-abcd*16"],
)
def test_gbt32905_vectors(message: bytes, expected: str) -> None:
    assert sm3_hex(message) == expected
    assert sm3_digest(message).hex() == expected
    hasher = SM3Hasher()
    for i in range(0, len(message), 5):
        hasher.update(message[i : i + 5])
    assert hasher.digest().hex() == expected


@pytest.mark.parametrize("length", [0, 1, 55, 56, 64, 1000])
def test_sm3_matches_pure_python_gmssl(length: int) -> None:
    data = bytes(range(256)) * 4
    assert sm3_hex(data[:length]) == pure_sm3.sm3_hash(list(data[:length]))


def _rfc2104_hmac_sm3(key: bytes, data: bytes) -> bytes:
    block = 64
    if len(key) > block:
        key = sm3_digest(key)
    key = key.ljust(block, b"\0")
    inner = sm3_digest(bytes(k ^ 0x36 for k in key) + data)
    return sm3_digest(bytes(k ^ 0x5C for k in key) + inner)


@pytest.mark.parametrize("key", [b"key", b"k" * 64, b"K" * 100])
def test_hmac_sm3_follows_rfc2104(key: bytes) -> None:
    data = b"The quick brown fox jumps over the lazy dog"
    tag = hmac_sm3(key, data)
    assert tag == _rfc2104_hmac_sm3(key, data)
    assert hmac_sm3_verify(key, data, tag)
    assert not hmac_sm3_verify(key, data + b".", tag)


def test_hmac_sm3_matches_gmssl_pyx() -> None:
    import gmssl_pyx

    assert hmac_sm3(b"key", b"data") == gmssl_pyx.sm3_hmac(b"key", b"data")


@pytest.mark.parametrize("length", [0, 16, 32, 33, 100])
def test_kdf_matches_gmssl(length: int) -> None:
    z = bytes(range(64))
    expected = pure_sm3.sm3_kdf(z.hex().encode(), length)
    assert sm3_kdf(z, length).hex() == expected


def test_kdf_rejects_negative_length() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        sm3_kdf(b"z", -1)
