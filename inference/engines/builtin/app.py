"""HTTP surface of the builtin engine: the OpenAI API routes plus ``/health`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from inference.engines.builtin.errors import OpenAIError, openai_error_body
from inference.engines.builtin.metrics import CONTENT_TYPE
from inference.engines.builtin.protocol import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from inference.engines.builtin.serving import BuiltinServer

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _validation_error(exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    message = (
        f"{param}: {first.get('msg', 'invalid value')}" if param else str(first.get("msg", "invalid body"))
    )
    if first.get("type") == "extra_forbidden":
        message = f"Unsupported parameter: {param} is not supported by this engine."
    return JSONResponse(openai_error_body(message, error_type="invalid_request_error", param=param), 400)


def _stream_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


def create_app(server: BuiltinServer) -> FastAPI:
    """The ASGI app serving ``server``; every error answers in the OpenAI error shape."""
    app = FastAPI(title="STIC builtin engine", docs_url=None, redoc_url=None)
    app.state.server = server

    @app.exception_handler(OpenAIError)
    async def _openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        body = openai_error_body(f"internal error: {type(exc).__name__}", error_type="server_error", code=500)
        return JSONResponse(body, 500)

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return server.models()

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: ChatCompletionRequest) -> dict[str, Any] | StreamingResponse:
        if request.stream:
            return _stream_response(await server.chat_stream(request))
        return await server.chat(request)

    @app.post("/v1/completions", response_model=None)
    async def completions(request: CompletionRequest) -> dict[str, Any] | StreamingResponse:
        if request.stream:
            return _stream_response(await server.completion_stream(request))
        return await server.completion(request)

    @app.post("/v1/embeddings")
    async def embeddings(request: EmbeddingRequest) -> dict[str, Any]:
        return await server.embeddings(request)

    return app
