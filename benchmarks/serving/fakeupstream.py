"""A fast fake OpenAI-compatible upstream for ``stic bench gateway`` (simulated: no model behind it).

A bare ASGI app (no framework, so the upstream costs as little as possible): ``GET /health``,
``GET /v1/models``, and ``POST /v1/chat/completions`` answering a fixed completion — as JSON, or as
an SSE stream of a role chunk, ``chunks`` content chunks ``interval_s`` apart, a usage chunk and
``[DONE]``. Run it with ``python -m benchmarks.serving.fakeupstream --port P``.

``--protocol h2c`` serves it with hypercorn, which speaks HTTP/2 cleartext with prior knowledge
(each SSE chunk a DATA frame on the request's stream) and HTTP/1.1 on the same port (readiness
checks and the model service's discovery use HTTP/1.1); the default ``http1`` uses uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def create_app(*, model: str = "bench", chunks: int = 8, interval_s: float = 0.0) -> ASGIApp:
    """The fake upstream: ``chunks`` content chunks per stream, ``interval_s`` apart."""
    if chunks < 1 or interval_s < 0:
        raise ValueError("chunks must be >= 1 and interval_s >= 0")
    created = int(time.time())
    models = json.dumps(
        {"object": "list", "data": [{"id": model, "object": "model", "created": created, "owned_by": "fake"}]}
    ).encode()

    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        }
        if usage is not None:
            payload["usage"] = usage
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    usage = {"prompt_tokens": 8, "completion_tokens": chunks, "total_tokens": 8 + chunks}
    role = chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    token = chunk([{"index": 0, "delta": {"content": " tok"}, "finish_reason": None}])
    last = chunk([{"index": 0, "delta": {"content": " tok"}, "finish_reason": "length"}])
    tail = chunk([], usage) + b"data: [DONE]\n\n"
    completion = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": " tok" * chunks},
                    "finish_reason": "length",
                }
            ],
            "usage": usage,
        }
    ).encode()

    async def read_body(receive: Receive) -> bytes:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        return body

    async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/health":
            await respond(send, 200, _JSON, b"{}")
        elif method == "GET" and path == "/v1/models":
            await respond(send, 200, _JSON, models)
        elif method == "POST" and path == "/v1/chat/completions":
            try:
                request = json.loads(await read_body(receive))
            except ValueError:
                await respond(send, 400, _JSON, b'{"error":{"message":"body is not JSON","type":"invalid"}}')
                return
            if not request.get("stream"):
                await respond(send, 200, _JSON, completion)
                return
            await send({"type": "http.response.start", "status": 200, "headers": _SSE})
            await send({"type": "http.response.body", "body": role, "more_body": True})
            for index in range(chunks):
                if interval_s:
                    await asyncio.sleep(interval_s)
                piece = last if index == chunks - 1 else token
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": tail})
        else:
            await respond(send, 404, _JSON, b'{"error":{"message":"not found","type":"not_found"}}')

    return app


def serve_h2c(app: ASGIApp, *, port: int, host: str = "127.0.0.1", max_streams: int = 250) -> None:
    """Serve ``app`` with hypercorn (h2c prior knowledge and HTTP/1.1) on ``host:port`` until killed.

    ``max_streams`` is the SETTINGS_MAX_CONCURRENT_STREAMS it announces per connection; hypercorn's
    priority tree refuses more than 1,000 streams (closed ones not yet pruned included) and then
    drops the connection, so it stays well below that.
    """
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from benchmarks.serving.procs import raise_fd_limit

    raise_fd_limit()
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.backlog = 16384
    config.h2_max_concurrent_streams = max_streams
    config.keep_alive_timeout = 60
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(app, config))  # type: ignore[arg-type]
    else:
        uvloop.run(serve(app, config))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> None:
    """Serve the fake upstream on ``127.0.0.1:--port``."""
    from benchmarks.serving.procs import serve_asgi

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="bench")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--interval-ms", type=float, default=0.0)
    parser.add_argument("--protocol", choices=("http1", "h2c"), default="http1")
    args = parser.parse_args(argv)
    app = create_app(model=args.model, chunks=args.chunks, interval_s=args.interval_ms / 1000.0)
    if args.protocol == "h2c":
        serve_h2c(app, port=args.port)
    else:
        serve_asgi(app, port=args.port)


if __name__ == "__main__":
    main()
