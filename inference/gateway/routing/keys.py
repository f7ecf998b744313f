"""Build a :class:`RequestKey` from an OpenAI request body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inference.gateway.routing.endpoint import RequestKey

DEFAULT_PREFIX_CHARS = 512


def _text_of(content: Any) -> str:
    """The text of a chat message content (a string or a list of typed parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def prompt_prefix(body: Mapping[str, Any], *, chars: int = DEFAULT_PREFIX_CHARS) -> str | None:
    """The first ``chars`` characters of the prompt, the way the engine will see it: chat messages
    as ``role: content`` lines, a completion ``prompt`` (string, list of strings: the first, or
    token ids), or an embeddings ``input``. ``None`` when the body has no prompt."""
    messages = body.get("messages")
    if isinstance(messages, list):
        parts: list[str] = []
        size = 0
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            line = f"{message.get('role', '')}: {_text_of(message.get('content'))}\n"
            parts.append(line)
            size += len(line)
            if size >= chars:
                break
        text = "".join(parts)
    else:
        prompt = body.get("prompt", body.get("input"))
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            text = " ".join(str(t) for t in prompt)
        elif isinstance(prompt, list) and prompt:
            text = str(prompt[0])
        elif isinstance(prompt, str):
            text = prompt
        else:
            text = ""
    return text[:chars] or None


def request_key_for(
    body: Mapping[str, Any], *, session: str | None = None, prefix_chars: int = DEFAULT_PREFIX_CHARS
) -> RequestKey:
    """The routing key of an OpenAI request: ``session`` as given (e.g. from a header), ``user``
    from the body's ``user`` field, and the prompt prefix."""
    user = body.get("user")
    return RequestKey(
        session=session or None,
        user=user if isinstance(user, str) and user else None,
        prefix=prompt_prefix(body, chars=prefix_chars),
    )
