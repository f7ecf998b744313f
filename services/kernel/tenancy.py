"""Tenant-scoped repository helpers: every read of a tenant-owned row goes through these."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.errors import NotFound
from services.kernel.identity import Tenant

M = TypeVar("M")


def scoped(model: type[M], tenant_id: str) -> Select[M]:
    """``SELECT model WHERE tenant_id = :tenant_id``: the only way to list tenant-owned rows."""
    column: Any = model.tenant_id  # type: ignore[attr-defined]
    return select(model).where(column == tenant_id)


async def get_scoped(
    session: AsyncSession, model: type[M], *, tenant_id: str, resource_id: str, kind: str
) -> M:
    """The row ``resource_id`` of ``tenant_id`` or NotFound (also when it belongs to another tenant)."""
    column: Any = model.id  # type: ignore[attr-defined]
    row = (await session.execute(scoped(model, tenant_id).where(column == resource_id))).scalar_one_or_none()
    if row is None:
        raise NotFound.of(kind, resource_id)
    return row


async def require_tenant(session: AsyncSession, tenant_id: str) -> None:
    """NotFound unless the tenant exists (platform administrators pass ``require`` for any id)."""
    if await session.get(Tenant, tenant_id) is None:
        raise NotFound.of("tenant", tenant_id)
