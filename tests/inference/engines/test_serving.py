"""The builtin serving pipeline over HTTP with a scripted generator injected through its seam."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from inference.engines.builtin.app import create_app
from inference.engines.builtin.serving import BuiltinServer
from inference.engines.builtin.worker import GenerationWorker
from inference.engines.process import free_port
from inference.engines.sse import SSEDecoder

MODEL = "fake"


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` from a thread (the worker's counters change on its own threads)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def make_server(generator: Any, *, max_num_seqs: int = 1, max_waiting: int = 4) -> BuiltinServer:
    worker = GenerationWorker(max_num_seqs=max_num_seqs, max_waiting=max_waiting)
    return BuiltinServer(generator=generator, served_model_name=MODEL, worker=worker)


@asynccontextmanager
async def asgi_client(server: BuiltinServer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(server), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as client:
        yield client


def events_of(body: bytes) -> list[Any]:
    return [e.data if e.is_done else e.json() for e in SSEDecoder().feed(body)]


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **extra}


async def test_chat_answer_joins_pieces_and_counts_tokens(fake_generator: Callable[..., Any]) -> None:
    async with asgi_client(make_server(fake_generator())) as client:
        response = await client.post("/v1/chat/completions", json=chat_body(max_tokens=10))
    body = response.json()
    assert response.status_code == 200
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello, world!"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("max_tokens", "content", "finish"),
    [(2, "Hello,", "length"), (4, "Hello, world!", "stop")],
)
async def test_max_tokens_ends_with_length(
    fake_generator: Callable[..., Any], max_tokens: int, content: str, finish: str
) -> None:
    async with asgi_client(make_server(fake_generator())) as client:
        body = (await client.post("/v1/chat/completions", json=chat_body(max_tokens=max_tokens))).json()
    assert (body["choices"][0]["message"]["content"], body["choices"][0]["finish_reason"]) == (
        content,
        finish,
    )


async def test_stream_shape_with_and_without_usage(fake_generator: Callable[..., Any]) -> None:
    async with asgi_client(make_server(fake_generator())) as client:
        with_usage = await client.post(
            "/v1/chat/completions", json=chat_body(stream=True, stream_options={"include_usage": True})
        )
        without = await client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert with_usage.headers["content-type"].startswith("text/event-stream")
    events = events_of(with_usage.content)
    assert events[-1] == "[DONE]"
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [e["choices"][0]["delta"].get("content") for e in events[1:5]] == ["Hello", ",", " world", "!"]
    assert events[5]["choices"][0]["finish_reason"] == "stop"
    assert events[6]["choices"] == [] and events[6]["usage"]["completion_tokens"] == 4
    assert all(e["usage"] is None for e in events[:6])
    plain = events_of(without.content)
    assert all("usage" not in e for e in plain[:-1])
    assert len(plain) == 7  # role chunk, 4 pieces, finish chunk, [DONE]


async def test_error_during_generation_becomes_an_error_event(fake_generator: Callable[..., Any]) -> None:
    async with asgi_client(make_server(fake_generator(fail_after=2))) as client:
        streamed = await client.post("/v1/chat/completions", json=chat_body(stream=True))
        whole = await client.post("/v1/chat/completions", json=chat_body())
    events = events_of(streamed.content)
    assert [e["choices"][0]["delta"].get("content") for e in events[1:3]] == ["Hello", ","]
    assert events[-2] == {
        "error": {
            "message": "internal error: RuntimeError",
            "type": "server_error",
            "param": None,
            "code": 500,
        }
    }
    assert events[-1] == "[DONE]"
    assert whole.status_code == 500
    assert whole.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": MODEL}, 400, "messages"),
        (chat_body(n=2), 400, "n"),
        (chat_body(temperature=-1), 400, "temperature"),
        (chat_body(stop=["a", "b", "c", "d", "e"]), 400, "stop"),
        (chat_body(model="other"), 404, "model"),
        (chat_body(max_tokens=60), 400, "max_tokens"),
        (chat_body(tools=[]), 400, "tools"),
    ],
    ids=["no-messages", "n", "temperature", "stop-count", "model", "too-long", "unsupported"],
)
async def test_bad_requests_answer_in_the_openai_error_shape(
    fake_generator: Callable[..., Any], body: dict[str, Any], status: int, param: str
) -> None:
    async with asgi_client(make_server(fake_generator())) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param
    assert param in error["message"] or status == 404 or error["code"] == "context_length_exceeded"


async def test_full_queue_answers_503_and_counts_show_in_metrics(fake_generator: Callable[..., Any]) -> None:
    gate = threading.Event()
    server = make_server(fake_generator(gate=gate), max_num_seqs=1, max_waiting=1)
    async with asgi_client(server) as client:
        first = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body()))
        second = asyncio.create_task(client.post("/v1/chat/completions", json=chat_body()))
        assert await asyncio.to_thread(wait_until, lambda: server.worker.running + server.worker.waiting == 2)
        metrics = (await client.get("/metrics")).text
        rejected = await client.post("/v1/chat/completions", json=chat_body())
        gate.set()
        assert (await first).status_code == (await second).status_code == 200
    assert 'vllm:num_requests_running{model_name="fake"} 1.0' in metrics
    assert 'vllm:num_requests_waiting{model_name="fake"} 1.0' in metrics
    assert rejected.status_code == 503
    assert rejected.json()["error"]["code"] == "engine_overloaded"


async def test_completions_take_several_prompts_and_token_ids(fake_generator: Callable[..., Any]) -> None:
    generator = fake_generator()
    async with asgi_client(make_server(generator)) as client:
        texts = await client.post(
            "/v1/completions", json={"model": MODEL, "prompt": ["a", "b"], "max_tokens": 2}
        )
        ids = await client.post(
            "/v1/completions", json={"model": MODEL, "prompt": [5, 6, 7], "max_tokens": 2}
        )
        streamed = await client.post(
            "/v1/completions", json={"model": MODEL, "prompt": ["a", "b"], "max_tokens": 2, "stream": True}
        )
    assert [c["text"] for c in texts.json()["choices"]] == ["Hello,", "Hello,"]
    assert [c["index"] for c in texts.json()["choices"]] == [0, 1]
    assert ids.json()["usage"]["prompt_tokens"] == 3
    assert generator.calls[2][0] == [5, 6, 7]
    indices = [e["choices"][0]["index"] for e in events_of(streamed.content)[:-1]]
    assert indices == [0, 0, 1, 1]


async def test_embeddings_float_and_dimension_check(fake_generator: Callable[..., Any]) -> None:
    async with asgi_client(make_server(fake_generator())) as client:
        ok = await client.post("/v1/embeddings", json={"model": MODEL, "input": ["ab", "abcd"]})
        bad = await client.post("/v1/embeddings", json={"model": MODEL, "input": "x", "dimensions": 7})
    assert [d["embedding"][0] for d in ok.json()["data"]] == [3.0, 5.0]  # BOS + characters
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "dimensions"


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    return server, thread


async def test_first_chunk_reaches_the_client_before_generation_ends(
    fake_generator: Callable[..., Any],
) -> None:
    gate = threading.Event()  # the generator blocks after its first token until this is set
    generator = fake_generator(gate=gate)
    port = free_port()
    server, thread = _serve(create_app(make_server(generator)), port)
    try:
        async with (
            httpx.AsyncClient() as client,
            client.stream(
                "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=chat_body(stream=True)
            ) as r,
        ):
            decoder = SSEDecoder()
            seen: list[str] = []
            seen_while_blocked: list[str] = []
            async for chunk in r.aiter_bytes():
                for event in decoder.feed(chunk):
                    if not event.is_done:
                        seen.append(event.json()["choices"][0]["delta"].get("content", ""))
                if "Hello" in seen and not gate.is_set():
                    seen_while_blocked = list(seen)
                    gate.set()
        # Buffering would deliver everything only after the generator's 30 s gate timeout.
        assert seen_while_blocked == ["", "Hello"]
        assert seen[1:5] == ["Hello", ",", " world", "!"]
    finally:
        gate.set()
        server.should_exit = True
        thread.join(timeout=10)


async def test_client_leaving_a_stream_cancels_generation(fake_generator: Callable[..., Any]) -> None:
    gate = threading.Event()  # holds the generator after "Hello" until the client has gone
    pieces = ("Hello", *("x" * 100_000))
    generator = fake_generator(gate=gate, pieces=pieces, max_model_len=200_000)
    port = free_port()
    server, thread = _serve(create_app(make_server(generator)), port)
    try:
        async with (
            httpx.AsyncClient() as client,
            client.stream(
                "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=chat_body(stream=True)
            ) as r,
        ):
            async for chunk in r.aiter_bytes():
                if b"Hello" in chunk:
                    break
        gate.set()
        await asyncio.to_thread(generator.cancelled.wait, 30)
        assert generator.cancelled.is_set()
        assert generator.produced < len(pieces)
    finally:
        gate.set()
        server.should_exit = True
        thread.join(timeout=10)
