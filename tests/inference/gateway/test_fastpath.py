"""The OpenAI fast path: which requests it takes, the route it names, and how its streams end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from inference.gateway.fastpath import EventStreamResponse, OpenAIFastPath


class _Client:
    """ASGI receive/send of one client: ``leave_after`` seconds after the body it disconnects."""

    def __init__(self, *, leave_after: float | None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.leave_after = leave_after
        self.completed = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.leave_after is not None:
            await asyncio.sleep(self.leave_after)
        else:
            await self.completed.wait()  # like uvicorn: http.disconnect once the response is complete
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.completed.set()


async def test_stream_ends_normally_and_the_late_disconnect_cancels_nothing() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"data: a\n\n"
        yield b"data: [DONE]\n\n"

    client = _Client(leave_after=None)
    await EventStreamResponse(body(), media_type="text/event-stream")({}, client.receive, client.send)
    await asyncio.sleep(0.05)  # the watcher sees http.disconnect now; this task must not be cancelled
    # the [DONE] event ends the response in the same message (one write less per stream)
    assert [(m.get("body"), m.get("more_body")) for m in client.sent[1:]] == [
        (b"data: a\n\n", True),
        (b"data: [DONE]\n\n", False),
    ]
    assert client.sent[0]["status"] == 200


async def test_a_stream_without_done_ends_with_an_empty_body_and_the_body_is_drained_after_done() -> None:
    drained = asyncio.Event()

    async def without_done() -> AsyncIterator[bytes]:
        yield b"data: a\n\n"

    async def after_done() -> AsyncIterator[bytes]:
        yield b"data: a\n\ndata: [DONE]\n\n"
        yield b"data: late\n\n"  # after the end of the response: not sent, but the body runs on
        drained.set()

    client = _Client(leave_after=None)
    await EventStreamResponse(without_done(), media_type="text/event-stream")({}, client.receive, client.send)
    assert [(m.get("body"), m.get("more_body")) for m in client.sent[1:]] == [
        (b"data: a\n\n", True),
        (b"", False),
    ]
    client = _Client(leave_after=None)
    await EventStreamResponse(after_done(), media_type="text/event-stream")({}, client.receive, client.send)
    assert [(m.get("body"), m.get("more_body")) for m in client.sent[1:]] == [
        (b"data: a\n\ndata: [DONE]\n\n", False)
    ]
    assert drained.is_set()


async def test_a_client_that_leaves_stops_the_stream_and_closes_the_body() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: x\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    client = _Client(leave_after=0.05)
    response = EventStreamResponse(endless(), media_type="text/event-stream")
    await asyncio.wait_for(response({}, client.receive, client.send), timeout=5)
    assert closed.is_set()
    assert all(m.get("more_body", True) for m in client.sent[1:])  # no end of body after the client left
    await asyncio.sleep(0)  # still running: the cancellation was consumed, not left pending


async def test_only_the_openai_post_paths_take_the_fast_path(monkeypatch: Any) -> None:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat() -> dict[str, str]:
        return {}

    served: list[tuple[str, Any]] = []
    passed: list[str] = []

    async def fake_serve(request: Any, operation: Any) -> Any:
        served.append((operation.value, request.scope.get("route")))
        return EventStreamResponse(_one(), media_type="text/event-stream")

    async def _one() -> AsyncIterator[bytes]:
        yield b"data: [DONE]\n\n"

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        passed.append(f"{scope['method']} {scope['path']}")

    monkeypatch.setattr("inference.gateway.pipeline.serve", fake_serve)
    fast = OpenAIFastPath(inner)
    for method, path in [("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("POST", "/v1/files")]:
        client = _Client(leave_after=None)
        scope = {"type": "http", "method": method, "path": path, "app": app, "root_path": ""}
        await fast(scope, client.receive, client.send)
    assert passed == ["GET /v1/models", "POST /v1/files"]
    assert [op for op, _ in served] == ["chat.completions"]
    assert getattr(served[0][1], "path", None) == "/v1/chat/completions"  # metrics and audit name it
