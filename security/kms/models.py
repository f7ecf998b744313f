"""KMS tables: tenant master keys and their versions (material sealed under the root key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin


class KmsKey(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A tenant master key; ``primary_version`` encrypts, every version decrypts."""

    __tablename__ = "kms_keys"
    id_prefix = "key"

    alias: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(16), default="enabled")
    primary_version: Mapped[int] = mapped_column(Integer, default=1)
    rotated_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("tenant_id", "alias", name="uq_kms_keys_tenant_alias"),)


class KmsKeyVersion(Base):
    """One version of a master key: 16 bytes of SM4 key material, sealed (SM4-GCM) by the root key."""

    __tablename__ = "kms_key_versions"

    key_id: Mapped[str] = mapped_column(String(64), ForeignKey("kms_keys.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sealed_material: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
