"""A deterministic OpenAI-compatible upstream for gateway tests, served by uvicorn in a thread.

Chat answers echo the last user message (``ECHO: <text>``) — or, for a message starting with
``ROT13:``, its ROT13 decoding (so a test can make the model say what the prompt check never saw);
streams send it in chunks of
``chunk_chars`` characters, then a usage event when asked, then ``[DONE]``. ``received`` keeps every
request body, so tests can see what the gateway forwarded (e.g. a masked prompt).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass
class EchoUpstream:
    """State shared between the test and the server thread."""

    name: str = "echo"
    chunk_chars: int = 4
    chunk_delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def reply_to(self, body: dict[str, Any]) -> str:
        messages = body.get("messages") or [{"content": body.get("prompt", "")}]
        content = str(messages[-1].get("content", ""))
        if content.startswith("ROT13:"):
            return codecs.decode(content.removeprefix("ROT13:").strip(), "rot13")
        return f"ECHO: {content}"


def _usage(prompt: str, answer: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = max(1, len(prompt.split())), max(1, len(answer.split()))
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def build_app(state: EchoUpstream) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": state.name, "object": "model", "created": 0, "owned_by": "t"}],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.received.append(body)
        answer = state.reply_to(body)
        prompt = json.dumps(body.get("messages"))
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-echo",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": _usage(prompt, answer),
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[bytes]:
            base = {
                "id": "chatcmpl-echo",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
            }
            first = {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            }
            yield f"data: {json.dumps(first)}\n\n".encode()
            for start in range(0, len(answer), state.chunk_chars):
                if state.chunk_delay_s:
                    await asyncio.sleep(state.chunk_delay_s)
                piece = answer[start : start + state.chunk_chars]
                chunk = {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
            last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(last)}\n\n".encode()
            if include_usage:
                usage = {**base, "choices": [], "usage": _usage(prompt, answer)}
                yield f"data: {json.dumps(usage)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> dict[str, Any]:
        body = await request.json()
        state.received.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0]}
                for i, t in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_echo(state: EchoUpstream | None = None) -> Iterator[EchoUpstream]:
    """Run an echo upstream on a free port until the block ends; ``state.url`` is its ``/v1`` base."""
    state = state or EchoUpstream()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("echo upstream did not start")
        time.sleep(0.02)
    state.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
