"""The floor relay of ``stic bench gateway --floor``: a real relay, only without product features."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from benchmarks.serving.fakeupstream import create_app
from benchmarks.serving.floor import create
from inference.gateway.workers import start_serving


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """The fake upstream (3 chunks) served on a free local port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(model="up", chunks=3), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = await start_serving(server, None)
    assert serving is not None
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://floor")  # type: ignore[arg-type]


async def test_floor_relays_every_event_of_the_upstream_stream(upstream: str) -> None:
    app = create(upstream_api_base=f"{upstream}/v1", model="up")
    try:
        async with _client(app) as http:
            response = await http.post(
                "/v1/chat/completions",
                json={"model": "anything", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            )
    finally:
        gc.unfreeze()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = [e.removeprefix("data: ") for e in response.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["model"] == "up"  # the floor names the upstream's model
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == " tok" * 3
    )
    assert chunks[-1]["usage"]["completion_tokens"] == 3


async def test_floor_answers_what_it_does_not_serve_and_forwards_upstream_errors(upstream: str) -> None:
    app = create(upstream_api_base=f"{upstream}/nowhere", model="up")
    try:
        async with _client(app) as http:
            assert (await http.get("/v1/chat/completions")).status_code == 404
            assert (await http.post("/v1/completions", json={})).status_code == 404
            bad = await http.post("/v1/chat/completions", content=b"[1, 2]")
            assert bad.status_code == 400 and "JSON object" in bad.text
            refused = await http.post("/v1/chat/completions", json={"messages": []})
    finally:
        gc.unfreeze()
    assert refused.status_code == 404  # the upstream has no /nowhere/chat/completions
    assert refused.headers["content-type"] == "application/json"
