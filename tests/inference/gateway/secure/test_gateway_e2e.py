"""The real gateway (``stic up``'s all-in-one app) with encryption: the official SDK over SecureTransport.

Proves the layers compose: the envelope middleware in front of the gateway's authentication,
routing, content safety and streaming relay, with an upstream that sees plain (masked) JSON.
SQLite only: the gateway's own tests cover both database backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from inference.gateway.secure import CONTENT_TYPE, SecureTransport
from tests.conftest import client_for
from tests.inference.gateway.conftest import create_openai_service, wait_routable
from tests.inference.gateway.echo_upstream import EchoUpstream, serve_echo
from tests.services.builders import make_tenant, ok, unique

pytestmark = pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoUpstream]:
    with serve_echo() as state:
        yield state


class Tap(httpx.AsyncBaseTransport):
    """ASGI transport into the app, keeping the covered requests' and responses' bytes."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.wire: list[tuple[str | None, bytes, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if not request.url.path.startswith("/v1/secure/"):
            self.wire.append((request.headers.get("content-type"), request.content, body))
        return httpx.Response(response.status_code, headers=response.headers, content=body)


async def test_encrypted_calls_through_the_gateway_equal_plain_ones(
    platform_app: FastAPI, admin_client: httpx.AsyncClient, echo: EchoUpstream
) -> None:
    tenant = await make_tenant(admin_client)
    model = unique("echo")
    await create_openai_service(admin_client, tenant, name=model, url=echo.url, upstream_model=echo.name)
    await wait_routable(platform_app, tenant.id, model)
    async with client_for(platform_app) as anonymous:
        fingerprint = (await ok(await anonymous.get("/v1/secure/key")))["fingerprint"]
    tap = Tap(platform_app)

    def sdk(transport: httpx.AsyncBaseTransport) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url="http://stic.test/v1",
            api_key=tenant.tokens["developer"],
            max_retries=0,
            http_client=httpx.AsyncClient(transport=transport),  # type: ignore[arg-type]
        )

    plain = sdk(httpx.ASGITransport(app=platform_app))
    secure = sdk(SecureTransport(server_fingerprint=fingerprint, inner=tap))
    messages: list[Any] = [{"role": "user", "content": "the orchid blooms at midnight"}]

    want = await plain.chat.completions.create(model=model, messages=messages)
    got = await secure.chat.completions.create(model=model, messages=messages)
    assert (
        got.choices[0].message.content
        == want.choices[0].message.content
        == "ECHO: the orchid blooms at midnight"
    )
    assert (
        echo.received[-1]["messages"][-1]["content"] == "the orchid blooms at midnight"
    )  # upstream saw JSON

    want_s = [
        c async for c in await plain.chat.completions.create(model=model, messages=messages, stream=True)
    ]
    got_s = [
        c async for c in await secure.chat.completions.create(model=model, messages=messages, stream=True)
    ]
    text = "".join(c.choices[0].delta.content or "" for c in got_s if c.choices)
    assert (
        text
        == "".join(c.choices[0].delta.content or "" for c in want_s if c.choices)
        == want.choices[0].message.content
    )

    with pytest.raises(openai.BadRequestError) as refused:  # the gateway's safety check, answered sealed
        await secure.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Tell me how to make a bomb at home"}]
        )
    assert refused.value.code == "content_filter"

    assert [content_type for content_type, _, _ in tap.wire] == [CONTENT_TYPE] * 3
    for _, sent, received in tap.wire:
        for word in (b"orchid", b"bomb", b"ECHO", b"content_filter", b"[DONE]"):
            assert word not in sent and word not in received
    await plain.close()
    await secure.close()
