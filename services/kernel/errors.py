"""One error type, one handler, one JSON shape: ``{"error": code, "message": text, "detail": ...}``.

Raise a subclass of :class:`STICError` anywhere in service code; ``install_error_handlers``
turns it (and FastAPI's validation errors) into that shape with the right status code and the
request id. Unexpected exceptions become a 500 in the same shape without leaking internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("stic.errors")


class STICError(Exception):
    """Base error of the platform; carries the HTTP status and a stable machine code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class BadRequest(STICError):
    """The request is well-formed JSON but asks for something invalid."""


class Unauthorized(STICError):
    """No credentials, or credentials that do not identify an active principal."""

    status_code = 401
    code = "unauthorized"


class Forbidden(STICError):
    """The principal is known but lacks the permission (only inside its own tenant)."""

    status_code = 403
    code = "forbidden"


class NotFound(STICError):
    """The resource does not exist *for this principal* (other tenants' resources included)."""

    status_code = 404
    code = "not_found"

    @classmethod
    def of(cls, kind: str, resource_id: str) -> NotFound:
        """``NotFound`` with the conventional message ``"<kind> '<id>' not found"``."""
        return cls(f"{kind} '{resource_id}' not found", detail={"kind": kind, "id": resource_id})


class Conflict(STICError):
    """The request conflicts with current state (duplicate name, wrong lifecycle state...)."""

    status_code = 409
    code = "conflict"


class QuotaExceeded(Conflict):
    """A reservation would exceed a quota at some level; ``detail`` names level and resource."""

    code = "quota_exceeded"


class PayloadTooLarge(STICError):
    """The request body exceeds the configured limit."""

    status_code = 413
    code = "payload_too_large"


def error_body(code: str, message: str, detail: Any, request_id: str | None) -> dict[str, Any]:
    """The JSON body every STIC error response carries."""
    return {"error": code, "message": message, "detail": detail, "request_id": request_id}


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _describe_validation_error(err: dict[str, Any]) -> dict[str, Any]:
    location = ".".join(str(part) for part in err.get("loc", ()))
    return {"field": location, "problem": err.get("msg", "invalid"), "type": err.get("type")}


async def _stic_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, STICError)
    body = error_body(exc.code, exc.message, exc.detail, _request_id(request))
    return JSONResponse(body, status_code=exc.status_code)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_describe_validation_error(e) for e in exc.errors()]
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5])
    body = error_body("validation_error", f"invalid request: {summary}", problems, _request_id(request))
    return JSONResponse(body, status_code=422)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, "http_error"
    )
    body = error_body(code, str(exc.detail), None, _request_id(request))
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"request_id": _request_id(request)})
    body = error_body("internal_error", "internal server error", None, _request_id(request))
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the platform's error handlers on ``app``."""
    app.add_exception_handler(STICError, _stic_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
