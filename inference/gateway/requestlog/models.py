"""The request-log table: one masked row per gateway request (the data loop's raw material)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, utcnow


class InferenceRequestLog(IdMixin, TenantOwnedMixin, Base):
    """A request as stored: bodies de-identified and bounded before they reach this table.

    ``tenant_id`` has no foreign key on purpose: the log is written in batches in the
    background and one row of a tenant deleted meanwhile must not fail the others.
    ``truncated`` says a body or the response was cut (see ``inference.gateway.requestlog.redaction``).
    """

    __tablename__ = "inference_request_logs"
    __table_args__ = (
        Index("ix_inference_request_logs_tenant_created", "tenant_id", "created_at"),
        Index("ix_inference_request_logs_route_variant", "route_id", "variant"),
    )
    id_prefix = "rlog"

    # no single-column index: (tenant_id, created_at) serves every tenant-scoped query
    tenant_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64), default=None)
    principal_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256))
    service_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    route_id: Mapped[str | None] = mapped_column(String(64), default=None)
    variant: Mapped[str | None] = mapped_column(String(64), default=None)
    replica_id: Mapped[str | None] = mapped_column(String(64), default=None)
    operation: Mapped[str] = mapped_column(String(32))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int] = mapped_column(Integer, index=True)
    error_type: Mapped[str | None] = mapped_column(String(64), default=None)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float, default=None)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    request_body: Mapped[dict[str, Any]] = mapped_column(JSON)
    response_text: Mapped[str | None] = mapped_column(Text, default=None)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
