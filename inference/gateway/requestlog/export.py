"""The ``chat-jsonl`` export: stored (masked) requests as a fine-tuning / evaluation data set.

One JSON object per line::

    {"messages": [{"role": ..., "content": ...}, ...],   # the request's chat (a completion's prompt
                                                           #  becomes one user message)
     "response": "...",                                    # the generated text, or null
     "meta": {"log_id", "request_id", "created_at", "model", "service_id", "route_id", "variant",
              "operation", "status", "status_code", "error_type", "prompt_tokens",
              "completion_tokens", "latency_ms", "ttft_ms", "stream", "truncated", "masked": true,
              "params": {other request fields: temperature, max_tokens, ...}}}

Only chat and text completions are exported (embeddings have no conversation). Everything in
the file comes from the stored rows, which were masked before storage.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference.gateway.requestlog.models import InferenceRequestLog
from inference.gateway.requestlog.query import LogFilter, iter_logs

EXPORTABLE_OPERATIONS = ("chat.completions", "completions")
_CONVERSATION_FIELDS = ("messages", "prompt")


def _messages(row: InferenceRequestLog) -> list[Any]:
    body = row.request_body
    if row.operation == "chat.completions":
        messages = body.get("messages")
        return messages if isinstance(messages, list) else []
    prompt = body.get("prompt")
    if prompt is None:
        return []
    content = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
    return [{"role": "user", "content": content}]


def chat_example(row: InferenceRequestLog) -> dict[str, Any]:
    """One line of the export for ``row``."""
    failed = row.status_code >= 400 or row.error_type is not None
    return {
        "messages": _messages(row),
        "response": row.response_text,
        "meta": {
            "log_id": row.id,
            "request_id": row.request_id,
            "created_at": row.created_at.isoformat(),
            "model": row.model,
            "service_id": row.service_id,
            "route_id": row.route_id,
            "variant": row.variant,
            "operation": row.operation,
            "status": "failed" if failed else "ok",
            "status_code": row.status_code,
            "error_type": row.error_type,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "latency_ms": row.latency_ms,
            "ttft_ms": row.ttft_ms,
            "stream": row.stream,
            "truncated": row.truncated,
            "masked": True,
            "params": {k: v for k, v in row.request_body.items() if k not in _CONVERSATION_FIELDS},
        },
    }


async def chat_jsonl(
    sessionmaker: async_sessionmaker[AsyncSession], log_filter: LogFilter, *, limit: int
) -> AsyncIterator[bytes]:
    """The export's lines, UTF-8, newline-terminated, oldest request first."""
    async for row in iter_logs(sessionmaker, log_filter, limit=limit, operations=EXPORTABLE_OPERATIONS):
        yield (json.dumps(chat_example(row), ensure_ascii=False) + "\n").encode()
