"""Stored assessment runs (platform-level, not tenant-owned)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TimestampMixin


class AssessmentRunRow(IdMixin, TimestampMixin, Base):
    """One run: its status, who asked, and the report in every format once finished."""

    __tablename__ = "assessment_runs"
    id_prefix = "asr"

    status: Mapped[str] = mapped_column(String(16), default="running")
    target: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    level_strict: Mapped[int | None] = mapped_column(Integer, default=None)
    level_with_simulated: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    report_json: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    report_oscal: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    report_html: Mapped[str | None] = mapped_column(Text, default=None)
