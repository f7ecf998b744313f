"""SM4 block cipher (GB/T 32907-2016) in GCM, CBC and CTR modes through ``cryptography``.

GCM (RFC 8998 profile: 12-byte nonce, 16-byte tag appended to the ciphertext) is the only
authenticated mode and the one to use for data at rest and in transit. CBC and CTR exist
for interoperability with systems that mandate them; they do not detect tampering, so pair
them with HMAC-SM3 (encrypt-then-MAC) if they must be used.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from security.crypto.errors import DecryptionError, InvalidInputError, InvalidKeyError

KEY_SIZE = 16
BLOCK_SIZE = 16
GCM_NONCE_SIZE = 12
GCM_TAG_SIZE = 16


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        got = len(key) if isinstance(key, bytes | bytearray) else type(key).__name__
        raise InvalidKeyError(f"SM4 key must be {KEY_SIZE} bytes, got {got}")


def _check_iv(name: str, iv: bytes, size: int) -> None:
    if len(iv) != size:
        raise InvalidInputError(f"SM4 {name} must be {size} bytes, got {len(iv)}")


class SM4GCM:
    """SM4-GCM authenticated encryption with a fixed key.

    ``encrypt`` returns ``ciphertext || tag`` (tag 16 bytes); ``decrypt`` takes the same
    layout and raises :class:`DecryptionError` when the tag, nonce, AAD or key do not match.
    A nonce must never repeat under one key: use :meth:`generate_nonce` or a counter.
    """

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._key = bytes(key)
        self._algorithm = algorithms.SM4(self._key)

    @staticmethod
    def generate_nonce() -> bytes:
        """Return a fresh random 12-byte nonce from the OS CSPRNG."""
        return os.urandom(GCM_NONCE_SIZE)

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
        """Encrypt ``plaintext`` bound to ``aad``; return ciphertext followed by the 16-byte tag."""
        _check_iv("GCM nonce", nonce, GCM_NONCE_SIZE)
        encryptor = Cipher(self._algorithm, modes.GCM(nonce)).encryptor()
        if aad:
            encryptor.authenticate_additional_data(aad)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return ciphertext + encryptor.tag

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes | None) -> bytes:
        """Verify and decrypt ``ciphertext || tag``; raise :class:`DecryptionError` if not authentic."""
        _check_iv("GCM nonce", nonce, GCM_NONCE_SIZE)
        if len(ciphertext) < GCM_TAG_SIZE:
            raise DecryptionError(f"SM4-GCM ciphertext shorter than the {GCM_TAG_SIZE}-byte tag")
        body, tag = ciphertext[:-GCM_TAG_SIZE], ciphertext[-GCM_TAG_SIZE:]
        decryptor = Cipher(self._algorithm, modes.GCM(nonce, tag)).decryptor()
        if aad:
            decryptor.authenticate_additional_data(aad)
        plaintext = decryptor.update(body)
        try:
            return plaintext + decryptor.finalize()
        except InvalidTag:
            raise DecryptionError("SM4-GCM authentication failed") from None

    def seal(self, plaintext: bytes, aad: bytes | None = None) -> bytes:
        """Encrypt under a fresh random nonce; return ``nonce || ciphertext || tag``."""
        nonce = self.generate_nonce()
        return nonce + self.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes | None = None) -> bytes:
        """Reverse :meth:`seal`; raise :class:`DecryptionError` on any mismatch."""
        if len(sealed) < GCM_NONCE_SIZE + GCM_TAG_SIZE:
            raise DecryptionError("sealed SM4-GCM message is too short")
        return self.decrypt(sealed[:GCM_NONCE_SIZE], sealed[GCM_NONCE_SIZE:], aad)


def sm4_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Encrypt one 16-byte block with raw SM4 (ECB of a single block; for test vectors only)."""
    _check_key(key)
    _check_iv("block", block, BLOCK_SIZE)
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - one block, vectors
    return encryptor.update(block) + encryptor.finalize()


def sm4_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding. Unauthenticated: prefer :class:`SM4GCM`."""
    _check_key(key)
    _check_iv("CBC IV", iv, BLOCK_SIZE)
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def sm4_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Reverse :func:`sm4_cbc_encrypt`; raise :class:`DecryptionError` on bad length or padding."""
    _check_key(key)
    _check_iv("CBC IV", iv, BLOCK_SIZE)
    if not ciphertext or len(ciphertext) % BLOCK_SIZE:
        raise DecryptionError("SM4-CBC ciphertext length is not a positive multiple of 16")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError("SM4-CBC padding is invalid") from None


def sm4_ctr_crypt(key: bytes, counter_block: bytes, data: bytes) -> bytes:
    """SM4-CTR keystream XOR (encryption and decryption are the same operation). Unauthenticated."""
    _check_key(key)
    _check_iv("CTR initial counter block", counter_block, BLOCK_SIZE)
    encryptor = Cipher(algorithms.SM4(key), modes.CTR(counter_block)).encryptor()
    return encryptor.update(data) + encryptor.finalize()
