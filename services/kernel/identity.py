"""Identity and tenancy tables: tenants → departments → projects, principals, keys, bindings.

These live in the kernel (not in ``services.iam``) because every service authenticates
requests against them; ``services.iam`` owns the HTTP API that manages them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin

PLATFORM_TENANT_NAME = "platform"


class Tenant(IdMixin, TimestampMixin, Base):
    """An organisation; the unit of isolation. The tenant named ``platform`` holds operators."""

    __tablename__ = "tenants"
    id_prefix = "ten"

    name: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")


class Department(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """A department inside a tenant; groups projects and carries its own quota."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "dep"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    display_name: Mapped[str] = mapped_column(String(200), default="")


class Project(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """A project inside a department; workloads and models belong to projects."""

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "prj"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    display_name: Mapped[str] = mapped_column(String(200), default="")


class User(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """A human principal of one tenant."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "usr"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    status: Mapped[str] = mapped_column(String(16), default="active")


class ServiceAccount(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """A non-human principal of one tenant, optionally tied to a project."""

    __tablename__ = "service_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "sa"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="active")


class ApiKey(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """An API key: only ``key_hash`` (HMAC of the whole token) is stored, never the token."""

    __tablename__ = "api_keys"
    id_prefix = "key"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(100), default="")
    principal_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class RoleBinding(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """Grants ``role`` to a principal at tenant scope (``project_id`` NULL) or on one project."""

    __tablename__ = "role_bindings"
    __table_args__ = (UniqueConstraint("principal_id", "role", "project_id"),)
    id_prefix = "rb"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    principal_type: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), default=None
    )
