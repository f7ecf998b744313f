"""The hot path of the OpenAI POST routes: plain ASGI in front of FastAPI's router.

``POST /v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings`` go straight to
:func:`inference.gateway.pipeline.serve` — no route matching over the whole app, no dependency
solving, no per-request exception-middleware wrapping — and their streams are sent by
:class:`EventStreamResponse` without a task group per stream. Everything the pipeline does
(auth, limits, safety, failover, usage, request log, metrics) is unchanged; the kernel's
``PlatformMiddleware`` and the SM4 envelope middleware still wrap it (this middleware sits inside
them), and ``scope["route"]`` is set to the FastAPI route so metrics and audit name the same
route template. The FastAPI routes stay registered for OpenAPI and for any other method.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.gateway.errors import from_platform_error
from inference.gateway.requests import Operation
from services.kernel.errors import STICError

FAST_PATHS: dict[str, Operation] = {
    "/v1/chat/completions": Operation.CHAT,
    "/v1/completions": Operation.COMPLETIONS,
    "/v1/embeddings": Operation.EMBEDDINGS,
}


class EventStreamResponse(StreamingResponse):
    """A streamed response sent from the serving task itself.

    Starlette's :class:`StreamingResponse` runs the body and a disconnect listener in a task group
    per stream (under ASGI spec < 2.4). Here one watcher task awaits ``http.disconnect`` and, if the
    client leaves while the body is still being sent, cancels the sending task — which closes the
    body iterator (and so the upstream stream) at once, as Starlette does.

    A chunk that ends with :attr:`final_event` (the OpenAI stream's ``data: [DONE]``) ends the
    response in the same write; the iterator is still run to its end (it accounts the stream and
    releases the upstream), and anything it yields after that event is not sent.
    """

    final_event: bytes | None = b"data: [DONE]\n\n"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        left = False
        streaming = True

        def on_message(watch: asyncio.Future[Message]) -> None:
            nonlocal left
            if not streaming or watch.cancelled() or watch.exception() is not None:
                return
            if watch.result().get("type") == "http.disconnect":
                left = True
                task.cancel()

        watcher: asyncio.Future[Message] = asyncio.ensure_future(receive())
        watcher.add_done_callback(on_message)
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            final = self.final_event
            async for chunk in self.body_iterator:
                if not streaming:
                    continue  # after the final event: drain only
                if not isinstance(chunk, bytes | memoryview):
                    chunk = chunk.encode(self.charset)
                if final is not None and bytes(chunk[-len(final) :]) == final:
                    streaming = False  # the end of the response makes receive() answer http.disconnect
                    await send({"type": "http.response.body", "body": chunk, "more_body": False})
                    continue
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if streaming:
                streaming = False
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not left:
                raise
            task.uncancel()  # the client left: not an error of this request
        finally:
            streaming = False
            watcher.cancel()
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
        if self.background is not None:
            await self.background()


class OpenAIFastPath:
    """ASGI middleware serving :data:`FAST_PATHS` (POST) directly; everything else goes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, Any] = {}

    def _route(self, scope: Scope, path: str) -> Any:
        """The FastAPI route of ``path`` (for metrics and audit labels), looked up once."""
        route = self._routes.get(path)
        if route is None:
            app = scope.get("app")
            for candidate in getattr(getattr(app, "router", None), "routes", ()):
                if getattr(candidate, "path", None) == path and "POST" in (
                    getattr(candidate, "methods", None) or ()
                ):
                    route = candidate
                    break
            self._routes[path] = route
        return route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        operation = FAST_PATHS.get(path)
        if operation is None:
            await self.app(scope, receive, send)
            return
        from inference.gateway.pipeline import serve  # the pipeline imports this module's response

        route = self._route(scope, path)
        if route is not None:
            scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await serve(request, operation)
        except STICError as exc:
            response = from_platform_error(exc).response()
        await response(scope, receive, send)
