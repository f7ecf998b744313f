"""Request and response bodies of the request-log API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from inference.gateway.requestlog.query import LogFilter, Status
from services.kernel.types import ResponseModel, StrictModel

OperationName = Literal["chat.completions", "completions", "embeddings"]


class RequestLogSummary(ResponseModel):
    """A stored request without its bodies (lists)."""

    id: str
    tenant_id: str
    request_id: str
    project_id: str | None
    principal_id: str
    key_id: str
    model: str
    service_id: str | None
    route_id: str | None
    variant: str | None
    replica_id: str | None
    operation: str
    stream: bool
    status_code: int
    error_type: str | None
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    truncated: bool
    created_at: datetime


class RequestLogDetail(RequestLogSummary):
    """A stored request with its masked request body and response text."""

    request_body: dict[str, Any]
    response_text: str | None


class ExportIn(StrictModel):
    """Which logs to export, and how (``chat-jsonl``: one chat example per line, masked)."""

    format: Literal["chat-jsonl"] = "chat-jsonl"
    model: str | None = Field(default=None, max_length=256)
    service_id: str | None = Field(default=None, max_length=64)
    route_id: str | None = Field(default=None, max_length=64)
    variant: str | None = Field(default=None, max_length=64)
    operation: OperationName | None = None
    status: Status | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(default=10_000, ge=1, le=100_000, description="at most this many lines, oldest first")

    def log_filter(self, tenant_id: str) -> LogFilter:
        """The filter over the tenant's logs."""
        return LogFilter(
            tenant_id=tenant_id,
            model=self.model,
            service_id=self.service_id,
            route_id=self.route_id,
            variant=self.variant,
            operation=self.operation,
            status=self.status,
            since=self.since,
            until=self.until,
        )
