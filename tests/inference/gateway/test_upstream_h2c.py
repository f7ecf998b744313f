"""The native upstream client over HTTP/2 cleartext (h2c) against real local servers.

hypercorn (in a thread) is a well-behaved h2c upstream: request/response, streaming, many
streams on one connection, flow control, large request bodies. A scripted server on the ``h2``
state machine covers what a well-behaved one never does: resetting a stream or sending GOAWAY
mid-stream, silence, and it observes the client's RST_STREAM when a consumer leaves.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import httpx
import openai
import pytest
from fastapi import FastAPI

from inference.engines.errors import EngineUnavailableError
from inference.gateway.upstream import NativeOpenAIClient, UpstreamPool, parse_api_base
from inference.gateway.upstream.h2connection import STREAM_WINDOW
from tests.inference.gateway.conftest import wait_routable
from tests.inference.gateway.h2c_upstream import H2cUpstream, serve_h2c
from tests.services.builders import make_tenant, ok, unique

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[H2cUpstream]:
    with serve_h2c(H2cUpstream(chunk_delay_s=0.01)) as state:
        yield state


def h2c_client(url: str, pool: UpstreamPool, api_key: str | None = None) -> NativeOpenAIClient:
    return NativeOpenAIClient(api_base=url, api_key=api_key, pool=pool, protocol="h2c")


async def test_request_response_over_h2(upstream: H2cUpstream) -> None:
    pool = UpstreamPool()
    client = h2c_client(upstream.url, pool, api_key="sk-1")
    answer = await client.chat_completions(CHAT, headers={"X-Request-ID": "r1", "Connection": "keep-alive"})
    assert answer.status_code == 200
    assert answer.body["choices"][0]["message"]["content"] == "ECHO: hello there"
    assert answer.headers["content-type"] == "application/json"
    assert upstream.versions[-1] == "2"
    seen = upstream.headers[-1]
    assert seen["authorization"] == "Bearer sk-1" and seen["x-request-id"] == "r1"
    assert "connection" not in seen  # connection-specific fields are not sent over HTTP/2
    assert pool.in_flight == 0
    await pool.aclose()


async def test_request_body_larger_than_the_initial_window(upstream: H2cUpstream) -> None:
    pool = UpstreamPool()
    client = h2c_client(upstream.url, pool)
    big = {"model": "echo", "messages": [{"role": "user", "content": "y" * 300_000}]}
    answer = await client.chat_completions(big)
    assert answer.status_code == 200 and answer.body["prompt_bytes"] > 300_000
    await pool.aclose()


async def test_stream_relays_every_event(upstream: H2cUpstream) -> None:
    pool = UpstreamPool()
    client = h2c_client(upstream.url, pool)
    raw = b"".join([piece async for piece in client.stream_chat_completions({**CHAT, "max_tokens": 5})])
    text = raw.decode()
    assert text.endswith("data: [DONE]\n\n") and '"usage"' in text
    assert [f"t{i} " in text for i in range(5)] == [True] * 5
    assert upstream.received[-1]["stream"] is True and upstream.versions[-1] == "2"
    assert pool.in_flight == 0
    await pool.aclose()


async def test_many_concurrent_streams_share_one_connection() -> None:
    with serve_h2c(H2cUpstream(chunk_delay_s=0.02)) as state:
        pool = UpstreamPool()
        client = h2c_client(state.url, pool)
        address = parse_api_base(state.url)[0]
        in_flight: list[int] = []

        async def one() -> bytes:
            chunks = client.stream_chat_completions({**CHAT, "max_tokens": 6})
            first = await anext(aiter(chunks))
            in_flight.append(pool.h2.stream_count(address))
            return first + b"".join([piece async for piece in chunks])

        bodies = await asyncio.gather(*(one() for _ in range(300)))
        assert all(body.endswith(b"data: [DONE]\n\n") for body in bodies)
        assert max(in_flight) > 200  # they really were open at the same time
        assert len(state.clients) == 1  # one TCP connection as the server saw it
        assert pool.h2.connection_count(address) == 1
        assert pool.in_flight == 0 and pool.h2.stream_count(address) == 0
        await pool.aclose()


async def test_a_full_connection_opens_another_at_the_peers_stream_limit() -> None:
    with serve_h2c(H2cUpstream(chunk_delay_s=0.05, max_streams=10)) as state:
        pool = UpstreamPool()
        client = h2c_client(state.url, pool)
        bodies = await asyncio.gather(
            *(client.chat_completions(CHAT) for _ in range(5)),
            *(
                asyncio.create_task(_drain(client.stream_chat_completions({**CHAT, "max_tokens": 4})))
                for _ in range(25)
            ),
        )
        assert all(bodies)
        assert len(state.clients) == 3  # 30 requests at once, 10 streams per connection
        await pool.aclose()


async def test_connections_idle_after_a_burst_are_closed_but_busy_ones_stay() -> None:
    with serve_h2c(H2cUpstream(chunk_delay_s=0.05, max_streams=10)) as state:
        pool = UpstreamPool()
        pool.h2.idle_timeout_s = 0.0  # every connection without a stream counts as idle at once
        client = h2c_client(state.url, pool)
        address = parse_api_base(state.url)[0]
        streams = [
            asyncio.create_task(_drain(client.stream_chat_completions({**CHAT, "max_tokens": 6})))
            for _ in range(25)
        ]
        for _ in range(1000):
            if pool.h2.stream_count(address) == 25:
                break
            await asyncio.sleep(0.01)
        assert pool.h2.connection_count(address) == 3
        # a request while all three carry streams: none of them is idle, none is closed
        assert await client.chat_completions(CHAT)
        assert pool.h2.connection_count(address) == 3
        await asyncio.gather(*streams)
        assert pool.h2.stream_count(address) == 0
        # the burst is over: the next request keeps one connection and closes the idle rest
        assert await client.chat_completions(CHAT)
        assert pool.h2.connection_count(address) == 1
        assert len(state.clients) == 3  # nothing new was opened
        await pool.aclose()


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in chunks])


async def test_a_slow_consumer_holds_at_most_one_stream_window(upstream: H2cUpstream) -> None:
    pool = UpstreamPool()
    address = parse_api_base(upstream.url)[0]
    size = 4 * 1024 * 1024
    head = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":authority", address[0].encode()),
        (b":path", b"/v1/bulk"),
        (b"content-type", b"application/json"),
    ]
    response = await pool.request_h2(address, head, json.dumps({"size": size}).encode())
    assert response.status_code == 200
    body = response.iter_bytes()
    received = len(await anext(body))
    await asyncio.sleep(0.5)  # the consumer stalls; the upstream must stall too
    stream = response._stream
    assert stream is not None
    # the upstream filled the stream's window and then had to wait: bounded, not the whole body
    assert STREAM_WINDOW // 2 < stream.buffered <= STREAM_WINDOW
    async for piece in body:
        received += len(piece)
    assert received == size  # window updates let the rest through as the consumer reads
    assert pool.in_flight == 0
    await pool.aclose()


async def test_connection_refused_is_a_retryable_unavailable_error() -> None:
    with serve_h2c() as state:
        url = state.url  # the port is free again once the server stopped
    client = h2c_client(url, UpstreamPool(connect_timeout_s=2.0))
    with pytest.raises(EngineUnavailableError) as caught:
        await anext(aiter(client.stream_chat_completions(CHAT)))
    assert caught.value.after_first_byte is False
    with pytest.raises(EngineUnavailableError):
        await client.chat_completions(CHAT)


async def test_a_server_that_never_sends_its_settings_times_out_on_connect() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        pool = UpstreamPool(connect_timeout_s=0.3)
        client = h2c_client(f"http://127.0.0.1:{port}/v1", pool)
        with pytest.raises(EngineUnavailableError, match="timed out") as caught:
            await client.chat_completions(CHAT)
        assert caught.value.after_first_byte is False
        assert pool.in_flight == 0
    finally:
        server.close()


async def test_a_live_connection_answers_the_keepalive_ping_and_stays() -> None:
    with serve_h2c(H2cUpstream()) as state:
        pool = UpstreamPool()
        pool.h2.keepalive_s = 0.0  # every reuse sends a PING
        pool.h2.ping_timeout_s = 2.0
        client = h2c_client(state.url, pool)
        for _ in range(5):
            assert await client.chat_completions(CHAT)
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.5)  # past the PING deadline: an unanswered PING would have closed it
        assert pool.h2.connection_count(parse_api_base(state.url)[0]) == 1
        assert await client.chat_completions(CHAT)
        assert len(state.clients) == 1
        await pool.aclose()


async def test_a_connection_that_goes_silent_fails_its_ping_and_the_request_moves_on() -> None:
    """A black-holed connection (no FIN, no RST) is found by PING, not by the 300 s read timeout."""
    connections = 0

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        silent_after_one = connections == 1
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        answered = 0
        try:
            while data := await reader.read(65536):
                if silent_after_one and answered:
                    continue  # black hole: read everything, answer nothing (not even PINGs)
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.StreamEnded):
                        body = json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()
                        conn.send_headers(event.stream_id, [(b":status", b"200")])
                        conn.send_data(event.stream_id, body, end_stream=True)
                        answered += 1
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, h2.exceptions.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        pool = UpstreamPool(read_timeout_s=60.0)
        pool.h2.keepalive_s = 0.0
        pool.h2.ping_timeout_s = 0.3
        client = h2c_client(f"http://127.0.0.1:{port}/v1", pool)
        assert await client.chat_completions(CHAT)
        # the first connection is now a black hole: without the PING this waits the 60 s read timeout
        assert await asyncio.wait_for(client.chat_completions(CHAT), timeout=10.0)
        assert connections == 2
        assert pool.h2.connection_count(("127.0.0.1", port)) == 1
        await pool.aclose()
    finally:
        server.close()


# --- a scripted h2c server ----------------------------------------------------------------------

Flush = Callable[[], Awaitable[None]]
Script = Callable[[h2.connection.H2Connection, int, Flush], Awaitable[None]]


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[tuple[str, list[h2.events.Event]]]:
    """An h2c server running ``script(conn, stream_id, flush)`` per request; yields (api_base, events)."""
    seen: list[h2.events.Event] = []
    handlers: list[asyncio.Task[None]] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        conn.initiate_connection()
        writer.write(conn.data_to_send())

        async def flush() -> None:
            writer.write(conn.data_to_send())
            await writer.drain()

        tasks = []
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    seen.append(event)
                    if isinstance(event, h2.events.RequestReceived):
                        tasks.append(asyncio.create_task(script(conn, event.stream_id, flush)))
                await flush()
        except (ConnectionError, h2.exceptions.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", seen
    finally:
        server.close()
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


SSE = [(b":status", b"200"), (b"content-type", b"text/event-stream")]


async def test_upstream_reset_mid_stream_is_an_error_after_the_first_byte() -> None:
    async def reset(conn: h2.connection.H2Connection, sid: int, flush: Flush) -> None:
        conn.send_headers(sid, SSE)
        conn.send_data(sid, b'data: {"choices": []}\n\n')
        await flush()
        await asyncio.sleep(0.05)
        conn.reset_stream(sid, error_code=2)
        await flush()

    async with scripted(reset) as (url, _):
        pool = UpstreamPool()
        chunks = h2c_client(url, pool).stream_chat_completions(CHAT)
        assert await anext(aiter(chunks)) == b'data: {"choices": []}\n\n'
        with pytest.raises(EngineUnavailableError, match="reset") as caught:
            await anext(aiter(chunks))
        assert caught.value.after_first_byte is True
        assert pool.in_flight == 0
        await pool.aclose()


async def test_goaway_mid_stream_fails_the_stream_after_the_first_byte() -> None:
    async def goaway(conn: h2.connection.H2Connection, sid: int, flush: Flush) -> None:
        conn.send_headers(sid, SSE)
        conn.send_data(sid, b'data: {"choices": []}\n\n')
        await flush()
        await asyncio.sleep(0.05)
        conn.close_connection(error_code=2, last_stream_id=sid)
        await flush()

    async with scripted(goaway) as (url, _):
        pool = UpstreamPool()
        chunks = h2c_client(url, pool).stream_chat_completions(CHAT)
        await anext(aiter(chunks))
        with pytest.raises(EngineUnavailableError, match="GOAWAY") as caught:
            await anext(aiter(chunks))
        assert caught.value.after_first_byte is True
        assert pool.h2.connection_count(parse_api_base(url)[0]) == 0
        await pool.aclose()


async def test_goaway_before_the_answer_can_fail_over() -> None:
    async def refuse(conn: h2.connection.H2Connection, sid: int, flush: Flush) -> None:
        conn.close_connection(error_code=0, last_stream_id=0)
        await flush()

    async with scripted(refuse) as (url, _):
        client = h2c_client(url, UpstreamPool())
        with pytest.raises(EngineUnavailableError) as caught:
            await anext(aiter(client.stream_chat_completions(CHAT)))
        assert caught.value.after_first_byte is False
        with pytest.raises(EngineUnavailableError):
            await client.chat_completions(CHAT)


async def test_silence_times_out_and_a_consumer_that_leaves_resets_the_stream() -> None:
    async def slow(conn: h2.connection.H2Connection, sid: int, flush: Flush) -> None:
        conn.send_headers(sid, SSE)
        conn.send_data(sid, b'data: {"choices": []}\n\n')
        await flush()
        await asyncio.sleep(30)

    async with scripted(slow) as (url, seen):
        pool = UpstreamPool(read_timeout_s=0.3)
        client = h2c_client(url, pool)
        chunks = client.stream_chat_completions(CHAT)
        await anext(aiter(chunks))
        with pytest.raises(EngineUnavailableError, match="no data") as caught:
            await anext(aiter(chunks))
        assert caught.value.after_first_byte is True
        leaving = client.stream_chat_completions(CHAT)
        await anext(aiter(leaving))
        await leaving.aclose()  # the client went away
        for _ in range(50):
            resets = [e for e in seen if isinstance(e, h2.events.StreamReset)]
            if len(resets) == 2:
                break
            await asyncio.sleep(0.02)
        assert [e.error_code for e in resets] == [8, 8]  # CANCEL, for both streams
        assert pool.in_flight == 0
        # the connection stays usable for the next request
        assert pool.h2.connection_count(parse_api_base(url)[0]) == 1
        await pool.aclose()


# --- through the gateway's public API -----------------------------------------------------------


async def test_gateway_streams_from_an_h2c_model_service(
    platform_app: FastAPI, admin_client: httpx.AsyncClient, upstream: H2cUpstream
) -> None:
    tenant = await make_tenant(admin_client)
    name = unique("h2c")
    admin = {"Authorization": f"Bearer {tenant.tokens['tenant-admin']}"}
    created = await ok(
        await admin_client.post(
            f"/v1/tenants/{tenant.id}/model-services",
            json={
                "name": name,
                "project_id": tenant.project_id,
                "engine": "openai",
                "upstream": {"url": upstream.url, "model": "echo", "protocol": "h2c"},
            },
            headers=admin,
        ),
        201,
    )
    assert created["model"]["protocol"] == "h2c"
    await wait_routable(platform_app, tenant.id, name)
    before = len(upstream.versions)
    sdk = openai.AsyncOpenAI(
        base_url="http://stic.test/v1",
        api_key=tenant.tokens["developer"],
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=platform_app)),
        max_retries=0,
    )
    stream = await sdk.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "hi"}], max_tokens=4, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "t0 t1 t2 t3 "
    answer = await sdk.chat.completions.create(model=name, messages=[{"role": "user", "content": "yo"}])
    assert answer.choices[0].message.content == "ECHO: yo"
    assert upstream.versions[before:].count("2") == 2  # both calls went over HTTP/2 (probes: 1.1)
