"""A cheap, tokenizer-free estimate of a request's tokens, for the TPM reservation.

The reservation is corrected by the real usage on release, so the estimate only has to be
in the right range and cheap: about four characters per token for Latin text, one token per
CJK character, plus the completion budget the request asks for (``max_completion_tokens`` or
``max_tokens``, else ``default_max_tokens``) times ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))


def text_tokens(text: str) -> int:
    """Estimated tokens of ``text``."""
    cjk = (
        sum(1 for ch in text if any(low <= ord(ch) <= high for low, high in _CJK_RANGES))
        if not text.isascii()
        else 0
    )
    return cjk + math.ceil((len(text) - cjk) / 4)


def _content_tokens(value: Any) -> int:
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, list):
        return sum(_content_tokens(item) for item in value)
    if isinstance(value, Mapping):
        return _content_tokens(value.get("text")) + _content_tokens(value.get("content"))
    return 0


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def estimate_tokens(body: Mapping[str, Any], *, operation: str, default_max_tokens: int = 256) -> int:
    """Prompt plus completion budget of an OpenAI request body (``operation`` as in request logs)."""
    if operation == "embeddings":
        return _content_tokens(body.get("input"))
    if operation == "chat.completions":
        messages = body.get("messages")
        prompt = sum(4 + _content_tokens(m) for m in messages) if isinstance(messages, list) else 0
    else:
        prompt = _content_tokens(body.get("prompt"))
    budget = _positive_int(body.get("max_completion_tokens")) or _positive_int(body.get("max_tokens"))
    choices = _positive_int(body.get("n")) or 1
    return prompt + (budget or default_max_tokens) * choices
