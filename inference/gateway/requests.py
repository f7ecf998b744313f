"""Validation of OpenAI request bodies, and the facts the gateway needs from them.

Bodies are validated with pydantic models that allow unknown fields (an engine may accept
parameters this gateway has never heard of: they are forwarded untouched). Only what the
gateway itself relies on is checked; a violation is a 400 naming the parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from inference.gateway.errors import invalid
from services.kernel import fastjson

MAX_PROMPT_CHARS = 1_000_000


class Operation(StrEnum):
    """The OpenAI API surfaces the gateway serves."""

    CHAT = "chat.completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    """One chat message; ``content`` is text or a list of content parts."""

    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(_Open):
    """``stream_options`` as OpenAI defines it."""

    include_usage: bool = False


class ChatRequest(_Open):
    """``POST /v1/chat/completions``."""

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=16)
    user: str | None = Field(default=None, max_length=256)


class CompletionRequest(_Open):
    """``POST /v1/completions`` (a single prompt string or a list of them)."""

    model: str = Field(min_length=1, max_length=256)
    prompt: str | list[str] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=16)
    user: str | None = Field(default=None, max_length=256)


class EmbeddingRequest(_Open):
    """``POST /v1/embeddings``."""

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] = Field(min_length=1)
    user: str | None = Field(default=None, max_length=256)


_MODELS: dict[Operation, type[_Open]] = {
    Operation.CHAT: ChatRequest,
    Operation.COMPLETIONS: CompletionRequest,
    Operation.EMBEDDINGS: EmbeddingRequest,
}


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """A validated request: the body to forward and what the gateway reads from it.

    ``text`` is the prompt as one string (messages joined) for the safety check, token estimate
    and prefix affinity; ``wants_usage`` is whether the client asked for usage in a stream.
    """

    operation: Operation
    body: dict[str, Any]
    model: str
    stream: bool
    wants_usage: bool
    text: str
    user: str | None
    max_output_tokens: int | None


def _message_text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def _param_of(error: ErrorDetails) -> str:
    return ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"


def parse_body(operation: Operation, raw: bytes) -> ParsedRequest:
    """Validate ``raw`` as the body of ``operation``; raises a 400 :class:`OpenAIError` naming the param."""
    try:
        data = fastjson.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.", code="invalid_json")
    try:
        model = _MODELS[operation].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = _param_of(first)
        raise invalid(f"Invalid value for '{param}': {first['msg']}", param=param) from None
    if isinstance(model, ChatRequest):
        text = "\n".join(_message_text(m.content) for m in model.messages)
        limit = model.max_completion_tokens or model.max_tokens
    elif isinstance(model, CompletionRequest):
        text = model.prompt if isinstance(model.prompt, str) else "\n".join(model.prompt)
        limit = model.max_tokens
    else:
        assert isinstance(model, EmbeddingRequest)
        text = model.input if isinstance(model.input, str) else "\n".join(model.input)
        limit = 0
    if len(text) > MAX_PROMPT_CHARS:
        raise invalid(f"The prompt is longer than {MAX_PROMPT_CHARS} characters.", param="messages")
    stream = bool(getattr(model, "stream", False))
    options = getattr(model, "stream_options", None)
    if options is not None and not stream:
        raise invalid("'stream_options' is only allowed when 'stream' is true.", param="stream_options")
    return ParsedRequest(
        operation=operation,
        body=data,
        model=model.model,
        stream=stream,
        wants_usage=bool(options and options.include_usage),
        text=text,
        user=model.user,
        max_output_tokens=limit,
    )


def estimate_tokens(text: str) -> int:
    """A conservative token estimate for rate limiting before the engine counts (about 4 chars a token)."""
    return max(1, len(text) // 4 + 1)
