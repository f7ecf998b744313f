"""The tokenizer-free token estimate used for TPM reservations."""

from __future__ import annotations

from inference.gateway.limits import estimate_tokens
from inference.gateway.limits.estimate import text_tokens


def test_text_tokens_count_cjk_characters_one_each() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcdefgh") == 2
    assert text_tokens("abcdefghi") == 3
    assert text_tokens("你好世界") == 4
    assert text_tokens("你好 world") == 2 + 2  # two CJK + ceil(6 / 4)


def test_chat_estimate_is_prompt_plus_completion_budget() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "abcd" * 10},
            {"role": "user", "content": [{"type": "text", "text": "你好"}, {"type": "image_url"}]},
        ],
        "max_tokens": 100,
        "n": 2,
    }
    assert estimate_tokens(body, operation="chat.completions") == (4 + 10) + (4 + 2) + 200
    body["max_completion_tokens"] = 10
    assert estimate_tokens(body, operation="chat.completions") == 20 + 20
    assert estimate_tokens({"messages": []}, operation="chat.completions", default_max_tokens=64) == 64


def test_completion_and_embedding_estimates() -> None:
    assert estimate_tokens({"prompt": ["abcd", "efgh"], "max_tokens": 5}, operation="completions") == 2 + 5
    assert estimate_tokens({"prompt": "abcd", "max_tokens": True}, operation="completions") == 1 + 256
    assert estimate_tokens({"input": ["abcdabcd", "你"]}, operation="embeddings") == 3
    assert estimate_tokens({}, operation="embeddings") == 0
