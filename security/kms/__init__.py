"""Key management: operator root key → sealed tenant master keys (versioned) → data keys.

See :mod:`security.kms.service` for the operations (GenerateDataKey, Encrypt, Decrypt,
ReEncrypt, rotation) and :mod:`security.kms.envelope` for the ciphertext format.
"""

from security.kms.rootkey import RootKey, RootKeyError
from security.kms.service import Caller, InvalidCiphertext, KeyDisabled, KeyManagementService

__all__ = ["Caller", "InvalidCiphertext", "KeyDisabled", "KeyManagementService", "RootKey", "RootKeyError"]
