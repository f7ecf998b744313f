"""Quota, usage and reservation tables (multi-level: tenant → department → project)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class Quota(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """Limits of one scope; a resource absent from ``limits`` is not limited at that level."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("scope_type", "scope_id"),)
    id_prefix = "quo"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    scope_type: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(64))
    limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class QuotaUsage(IdMixin, TenantOwnedMixin, Base):
    """Amount of one resource reserved in one scope (sum of its active reservations)."""

    __tablename__ = "quota_usage"
    __table_args__ = (UniqueConstraint("scope_type", "scope_id", "resource"),)
    id_prefix = "use"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    scope_type: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(80))
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class Reservation(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """Resources held by an owner (a job, a volume, an inference replica) in a project."""

    __tablename__ = "quota_reservations"
    __table_args__ = (UniqueConstraint("tenant_id", "owner"),)
    id_prefix = "rsv"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(200))
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active")
    released_at: Mapped[datetime | None] = mapped_column(default=None)
