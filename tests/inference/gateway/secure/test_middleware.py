"""SecureEnvelopeMiddleware in front of an echo app, driven with hand-made envelopes over ASGI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from inference.engines.sse import SSEDecoder
from inference.gateway.secure.client import StreamOpener
from inference.gateway.secure.envelope import CONTENT_TYPE, Binding, Direction, Envelope, SessionCipher
from inference.gateway.secure.errors import EnvelopeTampered, SecureChannelError
from inference.gateway.secure.gateway import SecureGateway
from inference.gateway.secure.middleware import SecureEnvelopeMiddleware
from tests.inference.gateway.secure.apps import echo_app
from tests.inference.gateway.secure.conftest import TOKEN, Clock, open_session

CHAT = "/v1/chat/completions"
SECRET = "the launch code is 0000"
BODY = {"model": "tiny", "messages": [{"role": "user", "content": SECRET}]}


@pytest.fixture
def app() -> FastAPI:
    return echo_app()


@pytest.fixture
async def client(app: FastAPI, gateway: SecureGateway) -> AsyncIterator[httpx.AsyncClient]:
    secured = SecureEnvelopeMiddleware(app, gateway=gateway)
    transport = httpx.ASGITransport(app=secured)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http


def seal(cipher: SessionCipher, seq: int, body: Any = BODY, path: str = CHAT) -> bytes:
    plain = json.dumps(body).encode()
    return cipher.seal(Direction.REQUEST, Binding("POST", path, cipher.session_id, seq), plain).to_json()


async def post(
    client: httpx.AsyncClient, wire: bytes, *, path: str = CHAT, token: str | None = TOKEN
) -> httpx.Response:
    headers = {"content-type": CONTENT_TYPE}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.post(path, content=wire, headers=headers)


def open_response(cipher: SessionCipher, response: httpx.Response, seq: int, path: str = CHAT) -> Any:
    binding = Binding("POST", path, cipher.session_id, seq, response.status_code)
    return json.loads(cipher.open(Direction.RESPONSE, binding, Envelope.from_json(response.content)))


def assert_error(response: httpx.Response, status: int, code: str, param: str | None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")
    assert response.headers["x-stic-envelope-error"] == code


async def test_plain_requests_pass_through_untouched(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.post(CHAT, json=BODY)
    assert response.status_code == 200
    assert response.json()["echo"] == BODY
    assert "x-stic-envelope" not in response.headers
    assert app.state.seen == [("application/json", BODY)]


async def test_required_refuses_plain_bodies_on_covered_paths_only(
    app: FastAPI, gateway: SecureGateway
) -> None:
    secured = SecureEnvelopeMiddleware(app, gateway=gateway, required=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=secured), base_url="http://gw") as http:
        refused = await http.post(CHAT, json=BODY)
        listed = await http.get("/v1/models")
    assert_error(refused, 400, "envelope_required", "content-type")
    assert CONTENT_TYPE in refused.json()["error"]["message"]
    assert listed.status_code == 200
    assert app.state.seen == []


async def test_required_can_come_from_the_gateway_settings(app: FastAPI, gateway: SecureGateway) -> None:
    strict = SecureGateway(
        gateway.keys, gateway.sessions, gateway.settings.model_copy(update={"required": True})
    )
    secured = SecureEnvelopeMiddleware(app, gateway=lambda: strict)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=secured), base_url="http://gw") as http:
        assert_error(await http.post(CHAT, json=BODY), 400, "envelope_required", "content-type")


async def test_encrypted_body_reaches_the_app_in_clear_and_comes_back_sealed(
    client: httpx.AsyncClient, app: FastAPI, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    wire = seal(cipher, 1)
    assert SECRET.encode() not in wire
    response = await post(client, wire)
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    assert response.headers["x-stic-envelope"] == "sm4-gcm/1"
    assert SECRET.encode() not in response.content
    assert open_response(cipher, response, 1) == {"echo": BODY, "path": CHAT}
    assert app.state.seen == [("application/json", BODY)]


async def test_app_errors_are_sealed_with_their_status_bound(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    response = await post(client, seal(cipher, 1, {**BODY, "fail": True}))
    assert response.status_code == 400
    assert open_response(cipher, response, 1)["error"]["message"] == "scripted failure"
    forged = Binding("POST", CHAT, cipher.session_id, 1, 200)  # an attacker rewrites 400 into 200
    with pytest.raises(EnvelopeTampered):
        cipher.open(Direction.RESPONSE, forged, Envelope.from_json(response.content))


async def test_a_replayed_envelope_is_refused(
    client: httpx.AsyncClient, app: FastAPI, gateway: SecureGateway
) -> None:
    before = {result: envelope_count(result) for result in ("ok", "envelope_replayed")}
    cipher = open_session(gateway)
    wire = seal(cipher, 1)
    assert (await post(client, wire)).status_code == 200
    assert_error(await post(client, wire), 409, "envelope_replayed", "seq")
    assert len(app.state.seen) == 1
    assert {result: envelope_count(result) - count for result, count in before.items()} == {
        "ok": 1,
        "envelope_replayed": 1,
    }


def envelope_count(result: str) -> float:
    return REGISTRY.get_sample_value("stic_secure_envelopes_total", {"result": result}) or 0.0


async def test_concurrent_reordering_inside_the_window_is_accepted_beyond_it_refused(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)  # window of 4
    for seq in (2, 1, 6):
        assert (await post(client, seal(cipher, seq))).status_code == 200
    assert (await post(client, seal(cipher, 3))).status_code == 200
    assert_error(await post(client, seal(cipher, 2)), 409, "envelope_stale", "seq")


async def test_a_tampered_envelope_is_refused_without_burning_its_sequence(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    good = json.loads(seal(cipher, 1))
    forged = {**good, "ct": good["ct"][:10] + ("A" if good["ct"][10] != "A" else "B") + good["ct"][11:]}
    assert_error(await post(client, json.dumps(forged).encode()), 400, "envelope_tampered", "ct")
    assert (await post(client, json.dumps(good).encode())).status_code == 200


async def test_an_envelope_for_another_path_is_refused(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    assert_error(await post(client, seal(cipher, 1, path="/v1/embeddings")), 400, "envelope_tampered", "ct")
    assert (
        await post(client, seal(cipher, 1, path="/v1/embeddings"), path="/v1/embeddings")
    ).status_code == 200


async def test_unknown_and_expired_sessions_are_refused(
    client: httpx.AsyncClient, gateway: SecureGateway, clock: Clock
) -> None:
    cipher = open_session(gateway)
    stranger = SessionCipher(session_id="sess_nope", client_to_server=b"a" * 16, server_to_client=b"b" * 16)
    assert_error(await post(client, seal(stranger, 1)), 401, "envelope_session_unknown", "sid")
    clock.now += 61
    assert_error(await post(client, seal(cipher, 1)), 401, "envelope_session_expired", "sid")


async def test_a_session_cannot_be_used_with_another_api_key(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    assert_error(
        await post(client, seal(cipher, 1), token="stic_fedcba9876543210_other"),
        403,
        "envelope_session_forbidden",
        "sid",
    )
    assert_error(await post(client, seal(cipher, 1), token=None), 403, "envelope_session_forbidden", "sid")


async def test_malformed_envelopes_name_the_field(client: httpx.AsyncClient) -> None:
    assert_error(await post(client, b"{}"), 400, "envelope_unsupported_version", "v")
    assert_error(
        await post(client, b'{"v": 1, "sid": "s", "seq": 1, "nonce": "@"}'),
        400,
        "envelope_malformed",
        "nonce",
    )


async def stream_events(client: httpx.AsyncClient, wire: bytes) -> tuple[httpx.Response, list[bytes]]:
    response = await post(client, wire)
    return response, [f"data: {e.data}".encode() for e in SSEDecoder().feed(response.content)]


async def test_each_stream_event_is_sealed_separately_and_opens_in_order(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    plain = await client.post(CHAT, json={**BODY, "stream": True})
    cipher = open_session(gateway)
    response, events = await stream_events(client, seal(cipher, 1, {**BODY, "stream": True}))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert SECRET.encode() not in response.content and b"[DONE]" not in response.content
    assert len(events) == 3 + 1 + 1  # three chunks, [DONE], the authenticated end
    opener = StreamOpener(cipher, Binding("POST", CHAT, cipher.session_id, 1, 200))
    opened = b"".join(opener.feed(event + b"\n\n") for event in events)
    opener.finish()
    assert opened == plain.content


def _opener(cipher: SessionCipher, seq: int = 1) -> StreamOpener:
    return StreamOpener(cipher, Binding("POST", CHAT, cipher.session_id, seq, 200))


def _feed_all(opener: StreamOpener, events: list[bytes]) -> None:
    for event in events:
        opener.feed(event + b"\n\n")
    opener.finish()


async def test_stream_reordering_dropping_truncation_and_tampering_are_detected(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    _, events = await stream_events(client, seal(cipher, 1, {**BODY, "stream": True}))
    reordered = [events[1], events[0], *events[2:]]
    dropped = [events[0], *events[2:]]
    truncated = events[:-1]
    after_end = [*events, events[0]]
    tampered = [*events]
    data = json.loads(tampered[2][len(b"data: ") :])
    data["ct"] = ("B" if data["ct"][0] == "A" else "A") + data["ct"][1:]
    tampered[2] = b"data: " + json.dumps(data).encode()
    cases = {
        "reordered": (reordered, "arrived where chunk 0"),
        "dropped": (dropped, "arrived where chunk 1"),
        "truncated": (truncated, "truncated"),
        "after end": (after_end, "after the authenticated end"),
        "tampered": (tampered, "chunk 2 failed authentication"),
    }
    for sequence, message in cases.values():
        with pytest.raises(SecureChannelError, match=message):
            _feed_all(_opener(cipher), sequence)


async def test_chunks_of_one_response_do_not_open_as_another_responses(
    client: httpx.AsyncClient, gateway: SecureGateway
) -> None:
    cipher = open_session(gateway)
    _, first = await stream_events(client, seal(cipher, 1, {**BODY, "stream": True}))
    with pytest.raises(SecureChannelError, match="failed authentication"):
        _feed_all(_opener(cipher, seq=2), first)  # a recorded stream replayed as the answer to request 2
