from __future__ import annotations

import pytest

from security.crypto.sm3 import hmac_sm3
from security.masking.strategies import (
    REDACTED,
    Strategy,
    apply,
    derive_salt,
    generalise,
    hash_with_salt,
    mask,
)
from security.safety.pii import PiiKind

SALT = b"0123456789abcdef"


@pytest.mark.parametrize(
    ("kind", "value", "masked", "general"),
    [
        (PiiKind.CHINA_ID, "11010519491231002X", "110***********002X", "11****-1949"),
        (PiiKind.MOBILE, "13812345678", "138****5678", "138********"),
        (PiiKind.BANK_CARD, "6222020200001234562", "622202*********4562", "622202…4562"),
        (PiiKind.BANK_CARD, "4111111111111111", "411111******1111", "411111…1111"),
        (PiiKind.EMAIL, "zhang.san@example.com", "z***@example.com", "*@example.com"),
    ],
)
def test_mask_and_generalise(kind: PiiKind, value: str, masked: str, general: str) -> None:
    assert mask(value, kind) == masked
    assert len(mask(value, kind)) == len(value) or kind is PiiKind.EMAIL
    assert generalise(value, kind) == general
    assert apply(Strategy.MASK, value, kind) == masked
    assert apply(Strategy.GENERALISE, value, kind) == general
    assert apply(Strategy.REDACT, value, kind) == REDACTED
    assert apply(Strategy.KEEP, value, kind) == value


def test_hash_is_keyed_hmac_sm3_over_kind_and_value() -> None:
    digest = hash_with_salt("13812345678", PiiKind.MOBILE, salt=SALT)
    assert digest == "hmac-sm3:" + hmac_sm3(SALT, b"mobile:13812345678").hex()
    assert digest == hash_with_salt("13812345678", PiiKind.MOBILE, salt=SALT)  # linkable
    assert digest != hash_with_salt("13812345678", PiiKind.MOBILE, salt=SALT[::-1])  # salt matters
    assert digest != hash_with_salt("13812345678", PiiKind.BANK_CARD, salt=SALT)  # kind matters
    assert apply(Strategy.HASH, "13812345678", PiiKind.MOBILE, salt=SALT) == digest


def test_hash_needs_a_real_salt() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes, got 3"):
        hash_with_salt("x", PiiKind.EMAIL, salt=b"abc")
    with pytest.raises(ValueError, match="the hash strategy needs a salt"):
        apply(Strategy.HASH, "x", PiiKind.EMAIL)


def test_derive_salt_is_deterministic_and_domain_separated() -> None:
    salt = derive_salt("a-long-deployment-secret")
    assert len(salt) == 32
    assert salt == derive_salt("a-long-deployment-secret")
    assert salt != derive_salt("another-deployment-secret")
    assert salt != hmac_sm3(b"a-long-deployment-secret", b"")
    with pytest.raises(ValueError, match="secret_key is empty"):
        derive_salt("")


def test_unknown_kind_or_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="'passport' is not a valid PiiKind"):
        mask("x", "passport")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'shred' is not a valid Strategy"):
        apply("shred", "x", PiiKind.EMAIL)  # type: ignore[arg-type]
