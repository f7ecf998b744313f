"""Chinese commercial cryptography for STIC: SM2, SM3, SM4 and the crypto-provider seam.

Bulk symmetric work and hashing run through ``cryptography`` (OpenSSL); SM2 runs through a
backend chosen from the installed ones (``tongsuopy``, ``gmssl-pyx``, pure ``gmssl``) or
forced with ``STIC_CRYPTO_SM2_BACKEND``.
"""

from security.crypto.errors import (
    BackendUnavailableError,
    CryptoError,
    DecryptionError,
    InvalidInputError,
    InvalidKeyError,
)
from security.crypto.provider import CryptoProvider, KeyHandle, SoftwareProvider, get_provider
from security.crypto.sm2 import DEFAULT_UID, SM2PrivateKey, SM2PublicKey
from security.crypto.sm2.keyexchange import KeyConfirmationError, KeyExchangeResult, SM2KeyExchange
from security.crypto.sm3 import SM3Hasher, hmac_sm3, hmac_sm3_verify, sm3_digest, sm3_hex, sm3_kdf
from security.crypto.sm4 import SM4GCM, sm4_cbc_decrypt, sm4_cbc_encrypt, sm4_ctr_crypt

__all__ = [
    "DEFAULT_UID",
    "SM4GCM",
    "BackendUnavailableError",
    "CryptoError",
    "CryptoProvider",
    "DecryptionError",
    "InvalidInputError",
    "InvalidKeyError",
    "KeyConfirmationError",
    "KeyExchangeResult",
    "KeyHandle",
    "SM2KeyExchange",
    "SM2PrivateKey",
    "SM2PublicKey",
    "SM3Hasher",
    "SoftwareProvider",
    "get_provider",
    "hmac_sm3",
    "hmac_sm3_verify",
    "sm3_digest",
    "sm3_hex",
    "sm3_kdf",
    "sm4_cbc_decrypt",
    "sm4_cbc_encrypt",
    "sm4_ctr_crypt",
]
