"""SM4 (GB/T 32907-2016 Annex A, RFC 8998 Appendix A.1) and tamper rejection."""

from __future__ import annotations

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from security.crypto import SM4GCM, DecryptionError, InvalidInputError, InvalidKeyError
from security.crypto.sm4 import sm4_cbc_decrypt, sm4_cbc_encrypt, sm4_ctr_crypt, sm4_encrypt_block

KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")

RFC8998_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
RFC8998_IV = bytes.fromhex("00001234567800000000ABCD")
RFC8998_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
RFC8998_PT = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
RFC8998_CT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
RFC8998_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


def test_gbt32907_single_block() -> None:
    assert sm4_encrypt_block(KEY, KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_gbt32907_one_million_iterations() -> None:
    encrypt = Cipher(algorithms.SM4(KEY), modes.ECB()).encryptor().update
    block = KEY
    for _ in range(1_000_000):
        block = encrypt(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_rfc8998_gcm_vector() -> None:
    gcm = SM4GCM(RFC8998_KEY)
    assert gcm.encrypt(RFC8998_IV, RFC8998_PT, RFC8998_AAD) == RFC8998_CT + RFC8998_TAG
    assert gcm.decrypt(RFC8998_IV, RFC8998_CT + RFC8998_TAG, RFC8998_AAD) == RFC8998_PT


def test_gcm_matches_gmssl_pyx() -> None:
    ciphertext, tag = gmssl_pyx.sm4_gcm_encrypt(RFC8998_KEY, RFC8998_IV, RFC8998_AAD, RFC8998_PT)
    assert bytes(ciphertext) + bytes(tag) == RFC8998_CT + RFC8998_TAG


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


SEALED = RFC8998_CT + RFC8998_TAG


@pytest.mark.parametrize(
    ("key", "nonce", "ciphertext", "aad"),
    [
        (RFC8998_KEY, RFC8998_IV, _flip(SEALED, 0), RFC8998_AAD),
        (RFC8998_KEY, RFC8998_IV, _flip(SEALED, 40), RFC8998_AAD),
        (RFC8998_KEY, RFC8998_IV, _flip(SEALED, len(SEALED) - 1), RFC8998_AAD),
        (RFC8998_KEY, RFC8998_IV, SEALED[:-1], RFC8998_AAD),
        (RFC8998_KEY, RFC8998_IV, SEALED[1:], RFC8998_AAD),
        (RFC8998_KEY, RFC8998_IV, SEALED[:15], RFC8998_AAD),
        (RFC8998_KEY, RFC8998_IV, SEALED, _flip(RFC8998_AAD, 3)),
        (RFC8998_KEY, RFC8998_IV, SEALED, None),
        (RFC8998_KEY, _flip(RFC8998_IV, 11), SEALED, RFC8998_AAD),
        (_flip(RFC8998_KEY, 0), RFC8998_IV, SEALED, RFC8998_AAD),
    ],
    ids=[
        "ct-first",
        "ct-middle",
        "tag-last",
        "truncated",
        "dropped-first",
        "shorter-than-tag",
        "aad",
        "aad-missing",
        "nonce",
        "key",
    ],
)
def test_gcm_rejects_tampering(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes | None) -> None:
    with pytest.raises(DecryptionError):
        SM4GCM(key).decrypt(nonce, ciphertext, aad)


def test_seal_and_open_use_fresh_nonces() -> None:
    gcm = SM4GCM(KEY)
    first, second = gcm.seal(b"payload", b"ctx"), gcm.seal(b"payload", b"ctx")
    assert first != second
    assert gcm.open(first, b"ctx") == gcm.open(second, b"ctx") == b"payload"
    with pytest.raises(DecryptionError):
        gcm.open(first, b"other-ctx")
    with pytest.raises(DecryptionError):
        gcm.open(first[:20])


def test_empty_plaintext_round_trips() -> None:
    gcm = SM4GCM(KEY)
    assert gcm.decrypt(RFC8998_IV, gcm.encrypt(RFC8998_IV, b"", None), None) == b""


@pytest.mark.parametrize("length", [1, 15, 16, 17, 1000])
def test_cbc_round_trip_and_matches_gmssl_pyx(length: int) -> None:
    iv, data = bytes(range(16)), (bytes(range(256)) * 4)[:length]
    ciphertext = sm4_cbc_encrypt(KEY, iv, data)
    assert ciphertext == bytes(gmssl_pyx.sm4_cbc_padding_encrypt(KEY, iv, data))
    assert sm4_cbc_decrypt(KEY, iv, ciphertext) == data


def test_cbc_empty_plaintext_is_one_padding_block() -> None:
    ciphertext = sm4_cbc_encrypt(KEY, bytes(16), b"")
    assert len(ciphertext) == 16
    assert sm4_cbc_decrypt(KEY, bytes(16), ciphertext) == b""


def test_cbc_bad_padding_and_length_raise_decryption_error() -> None:
    iv = bytes(16)
    ciphertext = sm4_cbc_encrypt(KEY, iv, b"sixteen byte msg")
    with pytest.raises(DecryptionError, match="padding"):
        sm4_cbc_decrypt(KEY, iv, ciphertext[:16])  # last block decrypts to data, not padding
    with pytest.raises(DecryptionError, match="multiple of 16"):
        sm4_cbc_decrypt(KEY, iv, ciphertext[:-1])


def test_ctr_is_an_involution_and_matches_gmssl_pyx() -> None:
    counter, data = bytes(range(16)), bytes(range(200))
    ciphertext = sm4_ctr_crypt(KEY, counter, data)
    assert ciphertext == bytes(gmssl_pyx.sm4_ctr_encrypt(KEY, counter, data))
    assert sm4_ctr_crypt(KEY, counter, ciphertext) == data


@pytest.mark.parametrize("key", [b"", b"\0" * 15, b"\0" * 17, b"\0" * 32])
def test_bad_key_length_is_named(key: bytes) -> None:
    with pytest.raises(InvalidKeyError, match="SM4 key must be 16 bytes"):
        SM4GCM(key)


def test_bad_nonce_length_is_named() -> None:
    with pytest.raises(InvalidInputError, match="nonce must be 12 bytes"):
        SM4GCM(KEY).encrypt(b"\0" * 8, b"x", None)
