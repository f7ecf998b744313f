"""Errors raised by engines and engine clients; the gateway maps them to OpenAI-shaped responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class EngineError(Exception):
    """Base class of every engine failure."""


class UnknownEngineError(EngineError):
    """An engine name that the registry does not list."""


class EngineConfigError(EngineError):
    """A replica spec or setting the engine cannot work with (missing model dir, missing venv...)."""


class EngineStartError(EngineError):
    """A replica did not become healthy: its process exited or the start timed out.

    ``log_tail`` holds the last lines the process wrote, to show the operator why.
    """

    def __init__(self, message: str, *, log_tail: str = "") -> None:
        super().__init__(f"{message}\n--- last log lines ---\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail


class EngineUnavailableError(EngineError):
    """The upstream could not be reached or broke the connection.

    ``after_first_byte`` is false when nothing was received yet, which is when a retry on another
    replica is safe.
    """

    def __init__(self, message: str, *, after_first_byte: bool = False) -> None:
        super().__init__(message)
        self.after_first_byte = after_first_byte


@dataclass(frozen=True)
class UpstreamResponse:
    """A non-streaming upstream answer: status, JSON object body, and headers, all as received."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status_code < 300


class UpstreamStatusError(EngineError):
    """A streaming request that the upstream refused before sending any event (non-2xx status)."""

    def __init__(self, response: UpstreamResponse) -> None:
        super().__init__(f"upstream answered {response.status_code}: {response.body}")
        self.response = response
