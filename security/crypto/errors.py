"""Errors raised by :mod:`security.crypto`.

Every error derives from :class:`CryptoError` so callers can catch the family; the
subclasses say what went wrong without leaking secret material in their messages.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by the crypto package."""


class DecryptionError(CryptoError):
    """A ciphertext failed authentication or is malformed (tampered, truncated, wrong key)."""


class InvalidKeyError(CryptoError, ValueError):
    """Key material is malformed: wrong length, not on the curve, out of range, bad encoding."""


class InvalidInputError(CryptoError, ValueError):
    """An argument other than a key is malformed (nonce length, signature encoding, lengths)."""


class BackendUnavailableError(CryptoError):
    """A requested SM2 backend is unknown or its library is not installed."""
