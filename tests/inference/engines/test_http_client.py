"""The engine client over a fake upstream (``httpx.MockTransport``): passthrough and error mapping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from inference.engines.base import EngineClient
from inference.engines.errors import EngineUnavailableError, UpstreamStatusError
from inference.engines.http_client import OpenAIHTTPClient

RAW_STREAM = [
    b'data: {"choices":[{"delta":{"content":"He"}}]}\n',
    b'\ndata: {"cho',
    b'ices":[]}\n\ndata: [DONE]\n\n',
]


class Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes], *, fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_after:
                raise httpx.ReadError("connection reset")
            yield chunk


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], *, api_key: str | None = "sk-test"
) -> OpenAIHTTPClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAIHTTPClient(api_base="http://upstream/v1/", api_key=api_key, http=http)


async def test_stream_bytes_pass_through_untouched() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Chunks(RAW_STREAM))

    client = client_for(handler)
    received = [chunk async for chunk in client.stream_chat_completions({"model": "m", "messages": []})]
    assert b"".join(received) == b"".join(RAW_STREAM)
    request = seen[0]
    assert request.url == "http://upstream/v1/chat/completions"
    assert json.loads(request.content) == {"model": "m", "messages": [], "stream": True}
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["accept-encoding"] == "identity"


async def test_refused_stream_raises_before_any_byte() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"error": {"message": "slow down", "type": "rate_limit", "param": None, "code": None}}
        )

    with pytest.raises(UpstreamStatusError) as caught:
        async for _ in client_for(handler).stream_completions({"model": "m", "prompt": "x"}):
            pass
    assert caught.value.response.status_code == 429
    assert caught.value.response.body["error"]["message"] == "slow down"


@pytest.mark.parametrize(("fail_after", "after_first_byte"), [(0, False), (1, True)])
async def test_broken_stream_says_whether_bytes_were_sent(fail_after: int, after_first_byte: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Chunks(RAW_STREAM, fail_after=fail_after))

    with pytest.raises(EngineUnavailableError) as caught:
        async for _ in client_for(handler).stream_chat_completions({"model": "m"}):
            pass
    assert caught.value.after_first_byte is after_first_byte


async def test_unreachable_upstream_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(EngineUnavailableError) as caught:
        await client_for(handler).chat_completions({"model": "m"})
    assert caught.value.after_first_byte is False


@pytest.mark.parametrize(
    ("response", "status", "body"),
    [
        (httpx.Response(200, json={"object": "list", "data": []}), 200, {"object": "list", "data": []}),
        (httpx.Response(404, json={"error": {"message": "no"}}), 404, {"error": {"message": "no"}}),
        (
            httpx.Response(502, text="Bad Gateway"),
            502,
            {"error": {"message": "Bad Gateway", "type": "upstream_error", "param": None, "code": 502}},
        ),
    ],
    ids=["ok", "error-json", "error-text"],
)
async def test_plain_calls_return_status_and_json(
    response: httpx.Response, status: int, body: dict[str, object]
) -> None:
    client = client_for(lambda request: response, api_key=None)
    result = await client.embeddings({"model": "m", "input": "x"})
    assert (result.status_code, result.body, result.ok) == (status, body, status == 200)


async def test_every_call_hits_its_path() -> None:
    paths: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append((request.method, request.url.path))
        return httpx.Response(200, json={})

    client = client_for(handler)
    assert isinstance(client, EngineClient)
    await client.models()
    await client.chat_completions({})
    await client.completions({})
    await client.embeddings({})
    assert paths == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/completions"),
        ("POST", "/v1/embeddings"),
    ]
