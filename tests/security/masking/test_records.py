from __future__ import annotations

from typing import Any

import pytest

from security.masking import MaskingPolicy, Strategy, hash_with_salt, mask_record, mask_text
from security.safety.pii import PiiKind

SALT = b"0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 13812345678 now", "call 138****5678 now"),
        ("电话１３８ １２３４ ５６７８。", "电话138****5678。"),
        ("ID 11010519491231002X, mail Li.Si@Example.cn", "ID 110***********002X, mail l***@example.cn"),
        ("nothing here 2024-05-01", "nothing here 2024-05-01"),
    ],
)
def test_mask_text_default_policy(text: str, masked: str) -> None:
    assert mask_text(text, MaskingPolicy()) == masked


def test_strategies_per_kind() -> None:
    policy = MaskingPolicy(
        kinds={
            PiiKind.MOBILE: Strategy.HASH,
            PiiKind.CHINA_ID: Strategy.GENERALISE,
            PiiKind.EMAIL: Strategy.KEEP,
        },
        salt=SALT,
    )
    text = "13812345678 / 11010519491231002X / a@b.cn"
    expected = f"{hash_with_salt('13812345678', PiiKind.MOBILE, salt=SALT)} / 11****-1949 / a@b.cn"
    assert mask_text(text, policy) == expected


def test_mask_record_walks_nested_json_without_mutating_it() -> None:
    record: dict[str, Any] = {
        "request_id": "req-1",
        "status": 200,
        "ok": True,
        "ratio": 0.5,
        "user": {"phone": 13812345678, "name": "张三", "Authorization": "Bearer secret"},
        "messages": [{"role": "user", "content": "我的卡号 6222 0202 0000 1234 562"}, None],
        "tags": ("a@b.cn",),
    }
    masked = mask_record(record, MaskingPolicy())
    assert masked == {
        "request_id": "req-1",
        "status": 200,
        "ok": True,
        "ratio": 0.5,
        "user": {"phone": "138****5678", "name": "张三", "Authorization": "[REDACTED]"},
        "messages": [{"role": "user", "content": "我的卡号 622202*********4562"}, None],
        "tags": ["a***@b.cn"],
    }
    assert record["user"]["phone"] == 13812345678


def test_field_strategies() -> None:
    policy = MaskingPolicy(fields={"session": Strategy.HASH, "trace": Strategy.KEEP}, salt=SALT)
    masked = mask_record({"session": {"id": 1}, "trace": "13812345678", "password": "x"}, policy)
    assert masked["session"].startswith("hmac-sm3:") and len(masked["session"]) == 9 + 64
    assert masked["trace"] == "13812345678"
    assert masked["password"] == "x"  # the default field list was replaced by the policy's


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": {PiiKind.MOBILE: Strategy.HASH}}, "needs a salt of at least 16 bytes"),
        ({"fields": {"x": Strategy.HASH}, "salt": b"short"}, "needs a salt of at least 16 bytes"),
        ({"fields": {"x": Strategy.MASK}}, "field 'x': strategy must be redact, hash or keep"),
        ({"kinds": {"passport": Strategy.MASK}}, "'passport' is not a valid PiiKind"),
        ({"max_depth": 0}, "max_depth must be positive"),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MaskingPolicy(**kwargs)


def test_depth_limit_and_unsupported_types() -> None:
    nested: Any = "13812345678"
    for _ in range(5):
        nested = [nested]
    assert mask_record(nested, MaskingPolicy(max_depth=5)) == [[[[["138****5678"]]]]]
    with pytest.raises(ValueError, match="deeper than max_depth=4"):
        mask_record(nested, MaskingPolicy(max_depth=4))
    with pytest.raises(ValueError, match="cannot mask a value of type set"):
        mask_record({"x": {1}}, MaskingPolicy())
