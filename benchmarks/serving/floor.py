"""The floor of ``stic bench gateway``: the least a gateway built on STIC's serving stack can cost.

``create`` (a ``--gateway-factory``) builds a bare ASGI relay from the gateway's own parts and
nothing else: uvicorn (httptools, uvloop) takes the request, :class:`~inference.gateway.upstream.
client.NativeOpenAIClient` sends it to the upstream over the gateway's keep-alive pool, and
:class:`~inference.gateway.relay.StreamRelay` forwards the SSE events as they complete, reading
usage on the way. No API keys, tenancy, limits, routing, content safety, request log, audit or
metrics. ``stic bench gateway --floor`` runs it beside the product on the same pinned CPUs, so a
report shows how much of the gateway's added latency and CPU the machine and the stack cost before
any feature does. Not a product: it serves only ``POST /v1/chat/completions`` for one model.
"""

from __future__ import annotations

import gc
from typing import Any

from starlette.types import Receive, Scope, Send

from inference.engines.errors import UpstreamStatusError
from inference.gateway.relay import StreamRelay
from inference.gateway.upstream.client import NativeOpenAIClient
from inference.gateway.upstream.pool import UpstreamPool
from services.kernel import fastjson

PATH = "/v1/chat/completions"


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionError("the client left before the request body ended")
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(parts)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create(*, upstream_api_base: str, model: str) -> Any:
    """The floor relay for ``model`` at ``upstream_api_base`` (an ASGI app; see the module docstring).

    Answers 404 for any other path or method and 400 for a body that is not a JSON object; an
    upstream error status is forwarded with its body. The heap built so far is frozen, as the
    product's all-in-one app does at startup, so collections do not walk the imported modules.
    """
    client = NativeOpenAIClient(api_base=upstream_api_base, api_key=None, pool=UpstreamPool())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != PATH:
            await _plain(send, 404, f"the floor relay serves only POST {PATH}")
            return
        try:
            body = fastjson.loads(await _read_body(receive))
        except ValueError:
            body = None
        if not isinstance(body, dict):
            await _plain(send, 400, "the request body must be a JSON object")
            return
        relay = StreamRelay(drop_usage_event=False)
        batches = relay.relay_batches(client.stream_chat_completions({**body, "model": model}))
        try:
            first: list[bytes] = await anext(batches, [])
        except UpstreamStatusError as exc:
            payload = fastjson.dumps(exc.response.body)
            await send(
                {
                    "type": "http.response.start",
                    "status": exc.response.status_code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        await send({"type": "http.response.body", "body": b"".join(first), "more_body": True})
        async for frames in batches:
            await send({"type": "http.response.body", "body": b"".join(frames), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    gc.collect()
    gc.freeze()
    return app
