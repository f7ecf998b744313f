"""Errors of the ``/v1/files`` and ``/v1/batches`` routes in the OpenAI shape.

``{"error": {"message", "type", "param", "code"}}`` instead of the platform's own shape, so
that the OpenAI SDK reports ``param`` and ``code``. Routers use :class:`OpenAIErrorRoute`;
authentication errors raised by dependencies are converted too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from services.kernel.errors import STICError

ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(status: int, message: str, *, code: str | None, param: str | None) -> JSONResponse:
    """A JSON response carrying one OpenAI-shaped error."""
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def _param(detail: Any) -> str | None:
    if isinstance(detail, dict):
        value = detail.get("param") or detail.get("field")
        return str(value) if value is not None else None
    return None


class OpenAIErrorRoute(APIRoute):
    """An APIRoute whose STIC and validation errors are answered in the OpenAI shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except STICError as exc:
                return openai_error(exc.status_code, exc.message, code=exc.code, param=_param(exc.detail))
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
                message = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request body"
                return openai_error(400, message, code="invalid_request", param=where or None)

        return route
