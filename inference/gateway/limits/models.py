"""The table of per-key rate limits: one row per (tenant, subject), the subject a key or the default."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin

DEFAULT_SUBJECT = "default"


class InferenceRateLimit(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """RPM / TPM / concurrency for one API key (``key_id``) or, with ``key_id`` NULL, the tenant default.

    ``subject`` is the key id or ``"default"``: unlike a nullable ``key_id`` it makes the default
    unique per tenant on every database. NULL limits are unlimited. Deleting the key deletes its row.
    """

    __tablename__ = "inference_rate_limits"
    __table_args__ = (UniqueConstraint("tenant_id", "subject"),)
    id_prefix = "rlim"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True, default=None
    )
    rpm: Mapped[int | None] = mapped_column(Integer, default=None)
    tpm: Mapped[int | None] = mapped_column(Integer, default=None)
    max_concurrency: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
