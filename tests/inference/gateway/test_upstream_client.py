"""The native upstream client (asyncio + httptools) against real local servers.

The echo upstream (uvicorn) answers JSON with ``Content-Length`` and streams chunked; a scripted
raw TCP server covers what a well-behaved server never does: closing mid-stream, closing an idle
keep-alive connection, close-delimited bodies, silence (timeouts) and garbage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest

from inference.engines.errors import EngineUnavailableError, UpstreamStatusError
from inference.gateway.upstream import NativeOpenAIClient, UpstreamPool, parse_api_base
from tests.inference.gateway.echo_upstream import EchoUpstream, serve_echo

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hello there"}]}

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoUpstream]:
    with serve_echo(EchoUpstream(chunk_chars=3)) as state:
        yield state


@asynccontextmanager
async def scripted(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP server running ``handler`` per connection; yields (api_base, accepted connections)."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", accepted
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


def sse_head(extra: bytes = b"Transfer-Encoding: chunked\r\n") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + extra + b"\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_parse_api_base() -> None:
    assert parse_api_base("http://h:81/v1") == (("h", 81), "/v1", "h:81")
    assert parse_api_base("http://h/") == (("h", 80), "", "h")
    with pytest.raises(ValueError, match="plain http"):
        parse_api_base("https://h/v1")


async def test_content_length_answer_and_connection_reuse(echo: EchoUpstream) -> None:
    pool = UpstreamPool()
    client = NativeOpenAIClient(api_base=echo.url, api_key="k", pool=pool)
    address = parse_api_base(echo.url)[0]
    first = await client.chat_completions(CHAT, headers={"X-Request-ID": "r1"})
    assert first.status_code == 200
    assert first.body["choices"][0]["message"]["content"] == "ECHO: hello there"
    assert first.headers["content-type"] == "application/json"
    assert pool.idle_count(address) == 1
    second = await client.embeddings({"model": "echo", "input": ["ab", "c"]})
    assert [d["embedding"][0] for d in second.body["data"]] == [2.0, 1.0]
    assert pool.idle_count(address) == 1  # the same connection served both
    assert pool.in_flight == 0
    await pool.aclose()


async def test_chunked_stream_relays_every_event(echo: EchoUpstream) -> None:
    pool = UpstreamPool()
    client = NativeOpenAIClient(api_base=echo.url, api_key=None, pool=pool)
    body = {**CHAT, "stream_options": {"include_usage": True}}
    raw = b"".join([piece async for piece in client.stream_chat_completions(body)])
    text = raw.decode()
    assert text.endswith("data: [DONE]\n\n")
    assert '"usage"' in text
    assert echo.received[-1]["stream"] is True
    assert pool.idle_count(parse_api_base(echo.url)[0]) == 1
    await pool.aclose()


async def test_upstream_error_status_is_returned_not_retried() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b'{"error": {"message": "bad model", "type": "invalid_request_error"}}'
        for _ in range(2):  # the second request comes on the same kept-alive connection
            await read_request(reader)
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

    async with scripted(refuse) as (url, accepted):
        pool = UpstreamPool()
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=pool)
        with pytest.raises(UpstreamStatusError) as caught:
            async for _ in client.stream_chat_completions(CHAT):
                pass
        assert caught.value.response.status_code == 400
        assert caught.value.response.body["error"]["message"] == "bad model"
        answer = await client.chat_completions(CHAT)
        assert answer.status_code == 400 and answer.body["error"]["type"] == "invalid_request_error"
        assert len(accepted) == 1
        await pool.aclose()


async def test_close_before_the_first_byte_is_a_retryable_unavailable_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with scripted(hang_up) as (url, _):
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=UpstreamPool())
        with pytest.raises(EngineUnavailableError) as caught:
            await anext(aiter(client.stream_chat_completions(CHAT)))
        assert caught.value.after_first_byte is False
        with pytest.raises(EngineUnavailableError) as non_stream:
            await client.chat_completions(CHAT)
        assert non_stream.value.after_first_byte is False


async def test_close_mid_stream_is_an_error_after_the_first_byte() -> None:
    async def break_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sse_head() + chunk(b'data: {"choices": []}\n\n'))
        await writer.drain()

    async with scripted(break_off) as (url, _):
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=UpstreamPool())
        chunks = client.stream_chat_completions(CHAT)
        assert await anext(aiter(chunks)) == b'data: {"choices": []}\n\n'
        with pytest.raises(EngineUnavailableError) as caught:
            await anext(aiter(chunks))
        assert caught.value.after_first_byte is True


async def test_headers_then_close_before_any_event_can_fail_over() -> None:
    async def headers_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sse_head())
        await writer.drain()

    async with scripted(headers_only) as (url, _):
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=UpstreamPool())
        with pytest.raises(EngineUnavailableError) as caught:
            await anext(aiter(client.stream_chat_completions(CHAT)))
        assert caught.value.after_first_byte is False


async def test_close_delimited_body_ends_with_the_connection() -> None:
    async def legacy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sse_head(b"Connection: close\r\n") + b"data: a\n\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()

    async with scripted(legacy) as (url, _):
        pool = UpstreamPool()
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=pool)
        raw = b"".join([piece async for piece in client.stream_chat_completions(CHAT)])
        assert raw == b"data: a\n\ndata: [DONE]\n\n"
        assert pool.idle_count(parse_api_base(url)[0]) == 0  # not kept: the server closed it
        assert pool.in_flight == 0


async def test_idle_connection_closed_by_the_upstream_is_replaced() -> None:
    async def one_answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        # keep-alive was promised, but the server closes the idle connection

    async with scripted(one_answer_then_close) as (url, accepted):
        pool = UpstreamPool()
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=pool)
        assert (await client.chat_completions(CHAT)).body == {}
        await asyncio.sleep(0.1)
        assert (await client.chat_completions(CHAT)).body == {}
        assert len(accepted) == 2
        await pool.aclose()


async def test_read_timeout_before_the_answer_and_mid_stream() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(sse_head() + chunk(b"data: a\n\n"))
        await writer.drain()
        await asyncio.sleep(5)

    async with scripted(silent) as (url, _):
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=UpstreamPool(read_timeout_s=0.2))
        with pytest.raises(EngineUnavailableError, match="no data from upstream") as caught:
            await client.chat_completions(CHAT)
        assert caught.value.after_first_byte is False
    async with scripted(stalls) as (url, _):
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=UpstreamPool(read_timeout_s=0.2))
        chunks = client.stream_chat_completions(CHAT)
        assert await anext(aiter(chunks)) == b"data: a\n\n"
        with pytest.raises(EngineUnavailableError, match="no data from upstream") as mid:
            await anext(aiter(chunks))
        assert mid.value.after_first_byte is True


async def test_connect_refused_and_garbage_are_unavailable() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with scripted(garbage) as (url, _):
        client = NativeOpenAIClient(api_base=url, api_key=None, pool=UpstreamPool())
        with pytest.raises(EngineUnavailableError, match="bad HTTP"):
            await client.chat_completions(CHAT)
    closed_port = url  # the server is gone now
    client = NativeOpenAIClient(api_base=closed_port, api_key=None, pool=UpstreamPool(connect_timeout_s=1))
    with pytest.raises(EngineUnavailableError, match="cannot connect"):
        await client.chat_completions(CHAT)


async def test_pool_limit_waits_for_a_free_connection(echo: EchoUpstream) -> None:
    pool = UpstreamPool(max_connections=1, connect_timeout_s=0.3)
    client = NativeOpenAIClient(api_base=echo.url, api_key=None, pool=pool)
    held = client.stream_chat_completions(CHAT)
    await anext(aiter(held))  # holds the only connection
    with pytest.raises(EngineUnavailableError, match="busy"):
        await client.chat_completions(CHAT)
    await held.aclose()  # type: ignore[attr-defined]
    assert pool.in_flight == 0
    both = await asyncio.gather(client.chat_completions(CHAT), client.chat_completions(CHAT))
    assert [a.status_code for a in both] == [200, 200]
    await pool.aclose()


async def test_header_injection_is_refused(echo: EchoUpstream) -> None:
    client = NativeOpenAIClient(api_base=echo.url, api_key=None, pool=UpstreamPool())
    with pytest.raises(ValueError, match="CR or LF"):
        await client.chat_completions(CHAT, headers={"X-Request-ID": "a\r\nX-Evil: 1"})
