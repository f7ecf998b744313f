"""Masking and bounding of one record's content, before storage."""

from __future__ import annotations

import json
from typing import Any

from inference.gateway.requestlog.redaction import TRUNCATION_MARKER, LogBounds, Redacted, redact
from tests.conftest import TEST_SECRET

CHINA_ID = "11010519491231002X"
MOBILE = "13812345678"
CARD = "4111111111111111"
EMAIL = "zhang.san@example.com"
RAW_VALUES = (CHINA_ID, MOBILE, CARD, EMAIL)


def _redact(body: dict[str, Any], response: str | None = None, bounds: LogBounds = LogBounds()) -> Redacted:
    return redact(
        request_body=body, response_text=response, tenant_id="ten_x", secret_key=TEST_SECRET, bounds=bounds
    )


def test_pii_in_body_and_response_is_masked() -> None:
    body: dict[str, Any] = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "you are helpful"},
            {"role": "user", "content": f"my id is {CHINA_ID}, phone {MOBILE}, card {CARD}, mail {EMAIL}"},
        ],
        "user": EMAIL,
        "api_key": "sk-very-secret",
        "temperature": 0.2,
    }
    out = _redact(body, f"call me at {MOBILE}")
    stored = json.dumps(out.request_body, ensure_ascii=False) + (out.response_text or "")
    for raw in (*RAW_VALUES, "sk-very-secret"):
        assert raw not in stored
    content = out.request_body["messages"][1]["content"]
    assert (
        content
        == "my id is 110***********002X, phone 138****5678, card 411111******1111, mail z***@example.com"
    )
    assert out.request_body["messages"][0]["content"] == "you are helpful"
    assert out.request_body["api_key"] == "[REDACTED]"
    assert out.request_body["temperature"] == 0.2
    assert out.response_text == "call me at 138****5678"
    assert out.truncated is False
    assert body["messages"][1]["content"].startswith("my id is 1101")  # the caller's dict is untouched


def test_long_strings_and_responses_are_cut_with_a_marker() -> None:
    out = _redact({"prompt": "x" * 500}, "y" * 500, LogBounds(max_string_chars=100, max_response_chars=50))
    assert out.request_body["prompt"] == "x" * 100 + TRUNCATION_MARKER
    assert out.response_text == "y" * 50 + TRUNCATION_MARKER
    assert out.truncated is True


def test_a_value_split_by_the_pre_cut_is_not_stored() -> None:
    """Masking shortens e-mails; the part of an ID cut before masking must still not survive."""
    emails = ("a" * 64 + "@example.com ") * 5  # 385 characters, 85 once masked
    text = emails + "-----" + CHINA_ID + " tail" * 50  # the ID straddles the pre-cut at 400
    out = _redact({"prompt": text}, bounds=LogBounds(max_string_chars=100, pre_mask_chars=400))
    stored = out.request_body["prompt"]
    assert "1101051949" not in stored
    assert stored.endswith(TRUNCATION_MARKER) and out.truncated


def test_an_oversized_body_keeps_a_masked_prefix() -> None:
    body = {"messages": [{"role": "user", "content": f"{MOBILE} " + "z" * 90} for _ in range(50)]}
    out = _redact(body, bounds=LogBounds(max_string_chars=1_000, max_body_bytes=1_000))
    assert out.truncated is True
    assert out.request_body["_stic_truncated"]["json_bytes"] > 1_000
    prefix = out.request_body["json_prefix"]
    assert len(prefix.encode()) <= 1_000 and "138****5678" in prefix and MOBILE not in prefix


def test_a_body_nested_too_deep_is_replaced() -> None:
    body: dict[str, Any] = {"messages": []}
    inner = body
    for _ in range(40):
        inner["x"] = {}
        inner = inner["x"]
    inner["phone"] = MOBILE
    out = _redact(body)
    assert MOBILE not in json.dumps(out.request_body)
    assert "nests deeper" in out.request_body["_stic_unloggable"]
