"""Errors on the OpenAI surface, answered in the OpenAI shape built in one place.

``{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}`` is what the official SDKs
parse into ``openai.BadRequestError`` and friends. Kernel errors (authentication, permissions,
not found) raised while serving an OpenAI route are converted by :func:`from_platform_error`.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from services.kernel.errors import STICError

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class OpenAIError(Exception):
    """An error answered as ``status_code`` with the OpenAI error body; ``headers`` are added."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code
        self.param = param
        self.type = type_ or _TYPE_BY_STATUS.get(status_code, "api_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The OpenAI error object."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        """The HTTP response for this error."""
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def invalid(message: str, *, param: str | None = None, code: str = "invalid_value") -> OpenAIError:
    """A 400 naming the offending parameter."""
    return OpenAIError(400, message, code=code, param=param)


def model_not_found(model: str) -> OpenAIError:
    """The model the client named is not served to this tenant."""
    return OpenAIError(
        404,
        f"The model '{model}' does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def from_platform_error(exc: STICError) -> OpenAIError:
    """The OpenAI form of a kernel error (401, 403, 404, 409, 413...)."""
    return OpenAIError(exc.status_code, exc.message, code=exc.code)
