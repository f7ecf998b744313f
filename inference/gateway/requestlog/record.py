"""What the gateway reports about one request: :class:`RequestRecord`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.kernel.db import utcnow

Operation = Literal["chat.completions", "completions", "embeddings"]
OPERATIONS: tuple[str, ...] = ("chat.completions", "completions", "embeddings")


@dataclass(slots=True, kw_only=True)
class RequestRecord:
    """One served (or refused) request, as the gateway saw it; raw, before masking.

    ``model`` is the name the client sent; ``service_id`` / ``route_id`` / ``variant`` /
    ``replica_id`` say where it went (None when it never got that far). ``request_body`` is the
    client's JSON body, ``response_text`` the generated text (joined stream chunks). A request is
    *failed* when ``status_code`` ≥ 400 or ``error_type`` is set (a stream that broke after 200).
    """

    request_id: str
    tenant_id: str
    principal_id: str
    key_id: str
    model: str
    operation: Operation
    status_code: int
    latency_ms: float
    request_body: dict[str, Any]
    project_id: str | None = None
    service_id: str | None = None
    route_id: str | None = None
    variant: str | None = None
    replica_id: str | None = None
    stream: bool = False
    error_type: str | None = None
    ttft_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    response_text: str | None = None
    created_at: datetime = field(default_factory=utcnow)

    @property
    def failed(self) -> bool:
        """True for an error answer or a stream that failed after it started."""
        return self.status_code >= 400 or self.error_type is not None
