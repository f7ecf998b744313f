"""Tables of the content-safety service: rule-pack versions, active packs, the review queue.

Pack versions are immutable rows (the validated document and its digest); which version
applies is a separate row per scope (``global`` or ``tenant:<id>``), so activating an older
version is a roll-back. Review items mirror :class:`security.safety.review.ReviewItem`;
``version`` is the compare-and-set counter and ``history`` the item's audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, utcnow

GLOBAL_SCOPE = "global"


def tenant_scope(tenant_id: str) -> str:
    """The scope string of a tenant (same form as ``RulePack.scope``)."""
    return f"tenant:{tenant_id}"


class SafetyPackVersion(IdMixin, Base):
    """One immutable version of a rule pack; ``tenant_id`` is NULL for platform (global) packs."""

    __tablename__ = "safety_pack_versions"
    __table_args__ = (UniqueConstraint("scope", "pack_id", "version"),)
    id_prefix = "spk"

    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, default=None
    )
    scope: Mapped[str] = mapped_column(String(80))
    pack_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    digest: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_format: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SafetyPackActivation(IdMixin, Base):
    """The pack version that applies to one scope; one row per scope, replaced on (re)activation."""

    __tablename__ = "safety_pack_activations"
    id_prefix = "spa"

    scope: Mapped[str] = mapped_column(String(80), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, default=None
    )
    pack_version_id: Mapped[str] = mapped_column(
        ForeignKey("safety_pack_versions.id", ondelete="CASCADE"), index=True
    )
    activated_by: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SafetyReviewItem(Base):
    """A text held for human review (PII-masked excerpt and SM3 only, never the raw text)."""

    __tablename__ = "safety_review_items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, default=None
    )
    pack_id: Mapped[str] = mapped_column(String(64))
    pack_version: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    categories: Mapped[list[str]] = mapped_column(JSON)
    excerpt: Mapped[str] = mapped_column(Text)
    text_sm3: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
