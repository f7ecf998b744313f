"""The official ``openai`` SDK, unchanged, through the secure transports against a real uvicorn server.

The server is a kernel app (real API-key authentication for the handshake) with the secure
module mounted as the gateway mounts it, in front of the builtin engine's OpenAI app serving an
echo generator (its answer is its prompt): an encrypted run must equal a plain run exactly. A
wire tap under the secure transport records every byte sent and received, to show that prompts
and answers never cross the network in clear while they do in the plain run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from inference.engines.builtin.app import create_app as create_engine_app
from inference.engines.builtin.serving import BuiltinServer
from inference.engines.builtin.worker import GenerationWorker
from inference.engines.process import free_port
from inference.gateway.secure import (
    CONTENT_TYPE,
    SecureEnvelopeMiddleware,
    SecureTransport,
    SyncSecureTransport,
    install_secure_gateway,
    router,
)
from services.kernel.app import ServiceModule, create_service_app
from tests.conftest import PlatformDB, platform_settings
from tests.inference.gateway.secure.apps import EchoGenerator

pytestmark = pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)

MODEL = "echo"
MARKER = "zebra-quartz-7319"
MESSAGES: list[Any] = [{"role": "user", "content": f"please keep {MARKER} secret"}]
COVERED = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")


@dataclass
class Server:
    url: str
    token: str
    fingerprint: str
    generator: EchoGenerator


@pytest.fixture(scope="module")
def server(platform_db: PlatformDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    generator = EchoGenerator()
    worker = GenerationWorker(max_num_seqs=2, max_waiting=16)
    engine = create_engine_app(BuiltinServer(generator=generator, served_model_name=MODEL, worker=worker))
    module = ServiceModule(
        name="gateway-secure-sdk-test",
        title="Secure gateway SDK test",
        routers=[router],
        on_startup=[install_secure_gateway],
        middleware=[(SecureEnvelopeMiddleware, {})],
    )
    settings = platform_settings(platform_db, data_dir=tmp_path_factory.mktemp("secure-sdk"))
    app = create_service_app(modules=[module], settings=settings)
    app.mount("/", engine)  # after the kernel's and the handshake routes
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        threading.Event().wait(0.01)
    url = f"http://127.0.0.1:{port}"
    fingerprint = httpx.get(f"{url}/v1/secure/key").json()["fingerprint"]
    try:
        yield Server(url, platform_db.admin_token, fingerprint, generator)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


class _TapStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, record: bytearray) -> None:
        self.inner, self.record = inner, record

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.record += chunk
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _AsyncTapStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, record: bytearray) -> None:
        self.inner, self.record = inner, record

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.record += chunk
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Exchange:
    path: str
    content_type: str | None
    sent: bytes
    received: bytearray


class WireTap(httpx.BaseTransport):
    """The real network transport, recording each exchange's bytes without buffering streams."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        exchange = Exchange(
            request.url.path, request.headers.get("content-type"), request.content, bytearray()
        )
        self.exchanges.append(exchange)
        response = self.inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        stream = _TapStream(response.stream, exchange.received)
        return httpx.Response(response.status_code, headers=response.headers, stream=stream)

    def close(self) -> None:
        self.inner.close()


class AsyncWireTap(httpx.AsyncBaseTransport):
    """Async twin of :class:`WireTap`."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        exchange = Exchange(
            request.url.path, request.headers.get("content-type"), request.content, bytearray()
        )
        self.exchanges.append(exchange)
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        stream = _AsyncTapStream(response.stream, exchange.received)
        return httpx.Response(response.status_code, headers=response.headers, stream=stream)

    async def aclose(self) -> None:
        await self.inner.aclose()


def sdk(server: Server, transport: httpx.BaseTransport, *, api_key: str | None = None) -> openai.OpenAI:
    """The official client, given an ``httpx.Client`` as the brief's usage line shows."""
    http_client = httpx.Client(transport=transport)
    # openai types ``http_client`` as its vendored httpx2 but accepts httpx clients at runtime.
    return openai.OpenAI(
        base_url=f"{server.url}/v1",
        api_key=api_key or server.token,
        max_retries=0,
        http_client=http_client,  # type: ignore[arg-type]
    )


def async_sdk(server: Server, transport: httpx.AsyncBaseTransport) -> openai.AsyncOpenAI:
    """The official asyncio client on an ``httpx.AsyncClient``."""
    http_client = httpx.AsyncClient(transport=transport)
    return openai.AsyncOpenAI(
        base_url=f"{server.url}/v1",
        api_key=server.token,
        max_retries=0,
        http_client=http_client,  # type: ignore[arg-type]
    )


def sync_clients(server: Server) -> tuple[openai.OpenAI, openai.OpenAI, WireTap, WireTap]:
    plain_tap, secure_tap = WireTap(), WireTap()
    secure_transport = SyncSecureTransport(server_fingerprint=server.fingerprint, inner=secure_tap)
    return sdk(server, plain_tap), sdk(server, secure_transport), plain_tap, secure_tap


def async_clients(
    server: Server,
) -> tuple[openai.AsyncOpenAI, openai.AsyncOpenAI, AsyncWireTap, AsyncWireTap]:
    plain_tap, secure_tap = AsyncWireTap(), AsyncWireTap()
    secure_transport = SecureTransport(server_fingerprint=server.fingerprint, inner=secure_tap)
    return async_sdk(server, plain_tap), async_sdk(server, secure_transport), plain_tap, secure_tap


TELLTALES = (
    MARKER,
    '"object"',
    "messages",
    "prompt",
    "choices",
    "chat.completion",
    "embedding",
    "usage",
    "[DONE]",
)


def assert_ciphertext_on_the_wire(secure: list[Exchange], plain: list[Exchange]) -> None:
    """Covered exchanges carry envelopes and none of the plaintext's words; the plain ones do."""
    covered = [e for e in secure if e.path in COVERED]
    assert covered, "no covered request went through the secure transport"
    assert {e.content_type for e in covered} == {CONTENT_TYPE}
    for exchange in covered:
        leaked = [w for w in TELLTALES if w.encode() in exchange.sent or w.encode() in exchange.received]
        assert leaked == [], f"{exchange.path} leaked {leaked}"
    assert all(MARKER.encode() not in bytes(e.sent + e.received) for e in secure)
    # The check can fail: the same calls in clear show the prompt and the answer's structure.
    clear = [e for e in plain if e.path in COVERED]
    assert clear and all(MARKER.encode() in e.sent and b'"object"' in e.received for e in clear)


def chat_text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_sync_sdk_chat_completions_and_embeddings(server: Server) -> None:
    plain, secure, plain_tap, secure_tap = sync_clients(server)
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "max_tokens": 64}
    want, got = plain.chat.completions.create(**kwargs), secure.chat.completions.create(**kwargs)
    assert got.choices[0].message.content == want.choices[0].message.content
    assert MARKER in (got.choices[0].message.content or "")
    assert got.usage == want.usage and got.choices[0].finish_reason == want.choices[0].finish_reason

    prompt = f"say {MARKER}"
    want_c = plain.completions.create(model=MODEL, prompt=prompt, max_tokens=32)
    got_c = secure.completions.create(model=MODEL, prompt=prompt, max_tokens=32)
    assert got_c.choices[0].text == want_c.choices[0].text and MARKER in got_c.choices[0].text

    want_e = plain.embeddings.create(model=MODEL, input=[prompt, "b"])
    got_e = secure.embeddings.create(model=MODEL, input=[prompt, "b"])
    assert [d.embedding for d in got_e.data] == [d.embedding for d in want_e.data]
    assert [e.path for e in secure_tap.exchanges][:2] == ["/v1/secure/key", "/v1/secure/sessions"]
    assert_ciphertext_on_the_wire(secure_tap.exchanges, plain_tap.exchanges)


def test_sync_sdk_streaming_equals_the_plain_stream(server: Server) -> None:
    plain, secure, plain_tap, secure_tap = sync_clients(server)
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": MESSAGES,
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    want, got = list(plain.chat.completions.create(**kwargs)), list(secure.chat.completions.create(**kwargs))
    assert len(got) == len(want) > 3
    assert chat_text(got) == chat_text(want) and MARKER in chat_text(got)
    assert got[-1].usage == want[-1].usage and got[-1].usage is not None
    sealed = next(e for e in secure_tap.exchanges if e.path == "/v1/chat/completions").received
    clear = next(e for e in plain_tap.exchanges if e.path == "/v1/chat/completions").received
    # One sealed event per upstream event, numbered in order ([DONE] included; the SDK stops reading
    # at [DONE], so the end marker after it may or may not have been read).
    indices = [json.loads(event[len(b"data: ") :])["chunk"] for event in sealed.split(b"\n\n") if event]
    assert indices[: clear.count(b"\n\n")] == list(range(clear.count(b"\n\n")))
    assert_ciphertext_on_the_wire(secure_tap.exchanges, plain_tap.exchanges)


async def test_async_sdk_chat_stream_and_embeddings(server: Server) -> None:
    plain, secure, plain_tap, secure_tap = async_clients(server)
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "max_tokens": 64}
    want, got = await plain.chat.completions.create(**kwargs), await secure.chat.completions.create(**kwargs)
    assert got.choices[0].message.content == want.choices[0].message.content
    want_s = [c async for c in await plain.chat.completions.create(**kwargs, stream=True)]
    got_s = [c async for c in await secure.chat.completions.create(**kwargs, stream=True)]
    assert chat_text(got_s) == chat_text(want_s) == got.choices[0].message.content
    want_e = await plain.embeddings.create(model=MODEL, input=MARKER)
    got_e = await secure.embeddings.create(model=MODEL, input=MARKER)
    assert got_e.data[0].embedding == want_e.data[0].embedding
    assert_ciphertext_on_the_wire(secure_tap.exchanges, plain_tap.exchanges)
    await plain.close()
    await secure.close()


def test_errors_cross_the_encrypted_channel_as_the_sdks_exceptions(server: Server) -> None:
    plain, secure, _, secure_tap = sync_clients(server)
    with pytest.raises(openai.NotFoundError) as want:
        plain.chat.completions.create(model="missing", messages=MESSAGES)
    with pytest.raises(openai.NotFoundError) as got:
        secure.chat.completions.create(model="missing", messages=MESSAGES)
    assert got.value.body == want.value.body
    failed = [e for e in secure_tap.exchanges if e.path == "/v1/chat/completions"][-1]
    assert b"missing" not in failed.received  # the error body was sealed too
    transport = SyncSecureTransport(server_fingerprint=server.fingerprint)
    bad_key = sdk(server, transport, api_key="stic_0000000000000000_wrong")
    with pytest.raises(openai.AuthenticationError):
        bad_key.chat.completions.create(model=MODEL, messages=MESSAGES)


def test_a_stream_is_not_buffered_behind_the_encryption(server: Server) -> None:
    _, secure, _, _ = sync_clients(server)
    gate = threading.Event()
    server.generator.gate, server.generator.produced = gate, 0
    try:
        stream = secure.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=64, stream=True)
        seen = ""
        for chunk in stream:
            seen += chat_text([chunk])
            if seen:
                break
        # The first token reached the client while the engine is still blocked after producing it.
        assert server.generator.produced == 1 and not gate.is_set()
        gate.set()
        seen += chat_text(list(stream))
        assert MARKER in seen
    finally:
        gate.set()
        server.generator.gate = None


def test_a_wrong_pin_never_sends_the_prompt(server: Server) -> None:
    tap = WireTap()
    client = sdk(server, SyncSecureTransport(server_fingerprint="ab" * 32, inner=tap))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert [e.path for e in tap.exchanges] == ["/v1/secure/key"]
