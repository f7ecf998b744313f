"""An OpenAI-compatible upstream speaking h2c (and HTTP/1.1), served by hypercorn in a thread.

Chat answers echo the last user message (``ECHO: <text>``); a stream sends ``max_tokens`` content
chunks ``chunk_delay_s`` apart, then a usage event and ``[DONE]``. ``POST /v1/bulk`` with
``{"size": N}`` streams N bytes in 16 KiB pieces (for flow control). The state records each
request's HTTP version, headers and client address (one address per TCP connection).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]


@dataclass
class H2cUpstream:
    """State shared between the test and the server thread."""

    chunk_delay_s: float = 0.0
    max_streams: int = 1000
    url: str = ""
    versions: list[str] = field(default_factory=list)
    clients: set[tuple[str, int]] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _chunk(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def build_app(state: H2cUpstream) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app (see the module docstring)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        state.versions.append(scope["http_version"])
        state.clients.add(tuple(scope["client"]))
        state.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        raw, more = b"", True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        path = scope["path"]
        if scope["method"] == "GET" and path in ("/health", "/v1/models"):
            body = {"object": "list", "data": [{"id": "echo", "object": "model", "owned_by": "t"}]}
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        request = json.loads(raw) if raw else {}
        state.received.append(request)
        if path == "/v1/bulk":
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            piece = b"x" * 16384
            remaining = int(request["size"])
            while remaining > 0:
                part = piece[: min(remaining, len(piece))]
                await send({"type": "http.response.body", "body": part, "more_body": True})
                remaining -= len(part)
            await send({"type": "http.response.body", "body": b""})
            return
        messages = request.get("messages") or [{"content": ""}]
        text = f"ECHO: {messages[-1].get('content', '')}"
        if not request.get("stream"):
            answer = {
                "id": "c1",
                "object": "chat.completion",
                "model": request.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                "prompt_bytes": len(raw),
            }
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        count = int(request.get("max_tokens") or 4)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        base = {"id": "c1", "object": "chat.completion.chunk", "model": request.get("model")}
        for index in range(count):
            if state.chunk_delay_s:
                await asyncio.sleep(state.chunk_delay_s)
            delta = {"content": f"t{index} "} if index else {"role": "assistant", "content": "t0 "}
            choice = {"index": 0, "delta": delta, "finish_reason": "length" if index == count - 1 else None}
            await send(
                {
                    "type": "http.response.body",
                    "body": _chunk({**base, "choices": [choice]}),
                    "more_body": True,
                }
            )
        usage = {"prompt_tokens": 3, "completion_tokens": count, "total_tokens": 3 + count}
        tail = _chunk({**base, "choices": [], "usage": usage}) + b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail})

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_h2c(state: H2cUpstream | None = None) -> Iterator[H2cUpstream]:
    """Run the upstream on a free port until the block ends; ``state.url`` is its ``/v1`` base."""
    state = state or H2cUpstream()
    port = _free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.h2_max_concurrent_streams = state.max_streams
    config.accesslog = None
    config.loglevel = "WARNING"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(build_app(state), config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("h2c upstream did not start") from None
            time.sleep(0.02)
    state.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield state
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()
