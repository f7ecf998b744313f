"""The route table: a name clients send as ``model`` that maps to a split or a chain of services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class InferenceRoute(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A tenant's route: ``kind`` is ``split`` or ``chain``; ``spec`` the validated route document."""

    __tablename__ = "inference_routes"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "rte"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
