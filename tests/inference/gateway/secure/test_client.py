"""The async client transport against the handshake router + middleware, over ASGI.

Authentication is replaced through FastAPI's dependency seam here; test_router.py and
test_openai_sdk.py run the kernel's real API-key authentication.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from inference.gateway.secure.client import SecureTransport
from inference.gateway.secure.envelope import CONTENT_TYPE
from inference.gateway.secure.errors import SecureChannelError, ServerKeyMismatch
from inference.gateway.secure.gateway import STATE_ATTRIBUTE, SecureGateway
from inference.gateway.secure.middleware import SecureEnvelopeMiddleware
from inference.gateway.secure.router import router
from services.kernel.auth import Principal
from services.kernel.deps import get_principal
from services.kernel.errors import Unauthorized, install_error_handlers
from tests.inference.gateway.secure.apps import echo_app
from tests.inference.gateway.secure.conftest import TOKEN, Clock

BODY = {"model": "tiny", "messages": [{"role": "user", "content": "very private"}]}
PRINCIPAL = Principal(
    id="usr_1", kind="user", name="dev", tenant_id="ten_1", key_id="key_1",
    tenant_permissions=frozenset({"inference:use"}),
)  # fmt: skip


class Recorder(httpx.AsyncBaseTransport):
    """Wraps the inner transport and keeps every request and (fully read) response body on the wire."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[httpx.Request] = []
        self.received: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.received.append(body)
        return httpx.Response(response.status_code, headers=response.headers, content=body)


def secure_app(gateway: SecureGateway, *, middleware: bool = True) -> FastAPI:
    app = echo_app()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[get_principal] = lambda: PRINCIPAL
    setattr(app.state, STATE_ATTRIBUTE, gateway)
    if middleware:
        app.add_middleware(SecureEnvelopeMiddleware)  # finds the gateway on app.state
    return app


@pytest.fixture
async def wired(gateway: SecureGateway) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder, FastAPI]]:
    app = secure_app(gateway)
    recorder = Recorder(httpx.ASGITransport(app=app))
    transport = SecureTransport(server_fingerprint=gateway.keys.fingerprint, inner=recorder)
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw/v1", headers=headers) as http:
        yield http, recorder, app


async def test_first_call_handshakes_then_sends_ciphertext(
    wired: tuple[httpx.AsyncClient, Recorder, FastAPI], gateway: SecureGateway
) -> None:
    http, recorder, app = wired
    first = await http.post("/chat/completions", json=BODY)
    second = await http.post("/embeddings", json=BODY)
    assert first.status_code == 200 and first.json() == {"echo": BODY, "path": "/v1/chat/completions"}
    assert second.json()["path"] == "/v1/embeddings"
    paths = [r.url.path for r in recorder.sent]
    assert paths == ["/v1/secure/key", "/v1/secure/sessions", "/v1/chat/completions", "/v1/embeddings"]
    for request, body in zip(recorder.sent[2:], recorder.received[2:], strict=True):
        assert request.headers["content-type"] == CONTENT_TYPE
        assert b"very private" not in request.content and b"very private" not in body
    assert [json.loads(r.content)["seq"] for r in recorder.sent[2:]] == [1, 2]
    assert app.state.seen == [("application/json", BODY), ("application/json", BODY)]
    assert len(gateway.sessions) == 1


async def test_streams_are_decrypted_event_by_event(
    wired: tuple[httpx.AsyncClient, Recorder, FastAPI],
) -> None:
    http, recorder, _ = wired
    async with http.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    events = [line for line in body.split(b"\n\n") if line]
    assert events[-1] == b"data: [DONE]"
    assert [json.loads(e[6:])["index"] for e in events[:-1]] == [0, 1, 2]
    assert b"[DONE]" not in recorder.received[-1]


async def test_non_covered_requests_pass_through(wired: tuple[httpx.AsyncClient, Recorder, FastAPI]) -> None:
    http, recorder, _ = wired
    assert (await http.get("/models")).json() == {"object": "list", "data": []}
    assert [r.url.path for r in recorder.sent] == ["/v1/models"]


async def test_a_lost_or_expired_session_is_replaced_transparently(
    wired: tuple[httpx.AsyncClient, Recorder, FastAPI], gateway: SecureGateway, clock: Clock
) -> None:
    http, recorder, _ = wired
    await http.post("/chat/completions", json=BODY)
    first_sid = json.loads(recorder.sent[-1].content)["sid"]
    clock.now += 61  # the gateway's clock: the client still thinks the session is live
    again = await http.post("/chat/completions", json=BODY)
    assert again.status_code == 200 and again.json()["echo"] == BODY
    gateway.sessions.close(json.loads(recorder.sent[-1].content)["sid"])  # e.g. a gateway restart
    assert (await http.post("/chat/completions", json=BODY)).status_code == 200
    sids = [json.loads(r.content)["sid"] for r in recorder.sent if r.url.path == "/v1/chat/completions"]
    # each refused attempt (expired, then unknown) is followed by one resend on a new session
    assert len(sids) == 5 and sids[0] == sids[1] == first_sid and sids[2] == sids[3]
    assert len({sids[0], sids[2], sids[4]}) == 3
    assert [r.url.path for r in recorder.sent].count("/v1/secure/sessions") == 3


async def test_a_session_near_its_ttl_is_replaced_before_the_gateway_refuses_it(
    gateway: SecureGateway,
) -> None:
    client_clock = Clock()
    recorder = Recorder(httpx.ASGITransport(app=secure_app(gateway)))
    transport = SecureTransport(
        server_fingerprint=gateway.keys.fingerprint, inner=recorder, refresh_margin_s=5, clock=client_clock
    )
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw/v1", headers=headers) as http:
        statuses = [(await http.post("/chat/completions", json=BODY)).status_code]
        client_clock.now += 54  # TTL 60 s, margin 5 s: still used
        statuses.append((await http.post("/chat/completions", json=BODY)).status_code)
        client_clock.now += 2  # now inside the margin: a new handshake first
        statuses.append((await http.post("/chat/completions", json=BODY)).status_code)
    assert statuses == [200, 200, 200]
    paths = [r.url.path for r in recorder.sent]
    assert paths.count("/v1/secure/sessions") == 2
    assert paths[-2:] == ["/v1/secure/sessions", "/v1/chat/completions"]
    assert paths.count("/v1/chat/completions") == 3  # no call was refused and resent
    assert gateway.sessions.count_for(PRINCIPAL.key_id) == 2


async def test_a_key_that_does_not_match_the_pin_is_refused(gateway: SecureGateway) -> None:
    transport = SecureTransport(
        server_fingerprint="00" * 32, inner=httpx.ASGITransport(app=secure_app(gateway))
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://gw/v1") as http:
        with pytest.raises(ServerKeyMismatch, match="not the pinned"):
            await http.post("/chat/completions", json=BODY, headers={"authorization": f"Bearer {TOKEN}"})
    assert len(gateway.sessions) == 0


async def test_a_clear_text_success_to_an_encrypted_request_is_refused(gateway: SecureGateway) -> None:
    app = secure_app(gateway, middleware=False)  # a downgrading gateway: handshake works, bodies not sealed
    transport = SecureTransport(
        server_fingerprint=gateway.keys.fingerprint, inner=httpx.ASGITransport(app=app)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://gw/v1") as http:
        with pytest.raises(SecureChannelError, match="unencrypted 200"):
            await http.post("/chat/completions", json=BODY, headers={"authorization": f"Bearer {TOKEN}"})


async def test_handshake_refusals_reach_the_caller_as_responses(gateway: SecureGateway) -> None:
    app = secure_app(gateway)

    def refuse() -> Principal:
        raise Unauthorized("invalid API key")

    app.dependency_overrides[get_principal] = refuse
    transport = SecureTransport(
        server_fingerprint=gateway.keys.fingerprint, inner=httpx.ASGITransport(app=app)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://gw/v1") as http:
        response = await http.post("/chat/completions", json=BODY, headers={"authorization": "Bearer bad"})
    assert response.status_code == 401
    assert response.json()["message"] == "invalid API key"
