"""De-identification of one PII value: mask, keyed hash, generalise.

Every function takes the *canonical* value a detector in :mod:`security.safety.pii` returns
(digits only for numbers, e-mail lower-cased) and its :class:`~security.safety.pii.PiiKind`:

========== ======================== ============================ ==========================
kind       :func:`mask`             :func:`generalise`           keeps
========== ======================== ============================ ==========================
china_id   ``110***********002X``   ``11****-1949``              province, birth year
mobile     ``138****5678``          ``138********``              carrier prefix
bank_card  ``622202******1234``     ``622202…1234``              BIN and last four
email      ``z***@example.com``     ``*@example.com``            domain
========== ======================== ============================ ==========================

:func:`hash_with_salt` is HMAC-SM3 keyed with a secret salt over ``kind:value``, so equal
values stay linkable inside one deployment without being reversible or guessable by
enumerating phone numbers (which a plain hash would allow).
"""

from __future__ import annotations

from enum import StrEnum

from security.crypto.sm3 import hmac_sm3
from security.safety.pii import PiiKind

SALT_MIN_BYTES = 16


class Strategy(StrEnum):
    """How a value is de-identified."""

    MASK = "mask"
    HASH = "hash"
    GENERALISE = "generalise"
    REDACT = "redact"
    KEEP = "keep"


REDACTED = "[REDACTED]"


def _stars(count: int) -> str:
    return "*" * max(count, 0)


def mask(value: str, kind: PiiKind) -> str:
    """Hide the identifying middle of ``value``, keeping the parts shown in the module table."""
    kind = PiiKind(kind)
    if kind is PiiKind.CHINA_ID:
        return value[:3] + _stars(len(value) - 7) + value[-4:]
    if kind is PiiKind.MOBILE:
        return value[:3] + _stars(len(value) - 7) + value[-4:]
    if kind is PiiKind.BANK_CARD:
        return value[:6] + _stars(len(value) - 10) + value[-4:]
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def generalise(value: str, kind: PiiKind) -> str:
    """Replace ``value`` by a coarser value (see the module table)."""
    kind = PiiKind(kind)
    if kind is PiiKind.CHINA_ID:
        return f"{value[:2]}****-{value[6:10]}"
    if kind is PiiKind.MOBILE:
        return value[:3] + _stars(len(value) - 3)
    if kind is PiiKind.BANK_CARD:
        return f"{value[:6]}…{value[-4:]}"
    return "*@" + value.partition("@")[2]


def hash_with_salt(value: str, kind: PiiKind, *, salt: bytes) -> str:
    """``"hmac-sm3:" + hex(HMAC-SM3(salt, kind:value))``; raises ``ValueError`` for a short salt."""
    if len(salt) < SALT_MIN_BYTES:
        raise ValueError(f"masking salt must be at least {SALT_MIN_BYTES} bytes, got {len(salt)}")
    return "hmac-sm3:" + hmac_sm3(salt, f"{PiiKind(kind).value}:{value}".encode()).hex()


def derive_salt(secret_key: str) -> bytes:
    """A masking salt derived from the deployment secret (``Settings.secret_key``), domain-separated."""
    if not secret_key:
        raise ValueError("secret_key is empty")
    return hmac_sm3(secret_key.encode(), b"stic/masking/salt/v1")


def apply(strategy: Strategy, value: str, kind: PiiKind, *, salt: bytes | None = None) -> str:
    """Apply ``strategy`` to one value; :attr:`Strategy.HASH` needs ``salt``."""
    strategy = Strategy(strategy)
    if strategy is Strategy.MASK:
        return mask(value, kind)
    if strategy is Strategy.GENERALISE:
        return generalise(value, kind)
    if strategy is Strategy.REDACT:
        return REDACTED
    if strategy is Strategy.KEEP:
        return value
    if salt is None:
        raise ValueError("the hash strategy needs a salt")
    return hash_with_salt(value, kind, salt=salt)
