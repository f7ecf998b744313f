"""OpenAI-shaped errors: one exception type and one function that builds the JSON body."""

from __future__ import annotations

from typing import Any


def openai_error_body(
    message: str, *, error_type: str, param: str | None = None, code: str | int | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}`` as the OpenAI API answers."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class OpenAIError(Exception):
    """An error answered to the client in the OpenAI shape with ``status_code``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_type = error_type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body for this error."""
        return openai_error_body(self.message, error_type=self.error_type, param=self.param, code=self.code)


def model_not_found(model: str) -> OpenAIError:
    """404 for a model this server does not serve (OpenAI's wording and code)."""
    return OpenAIError(
        f"The model `{model}` does not exist.", status_code=404, param="model", code="model_not_found"
    )


def overloaded(limit: int) -> OpenAIError:
    """503 when the waiting queue is full."""
    return OpenAIError(
        f"The engine is overloaded: {limit} requests are already waiting. Retry later.",
        status_code=503,
        error_type="server_error",
        code="engine_overloaded",
    )
