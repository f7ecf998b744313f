"""Multi-level quotas (tenant → department → project) and the reservation ledger.

Invariants:
- a child's limit for a resource never exceeds its parent's limit for that resource;
- for every scope, ``quota_usage.used`` equals the sum of its active reservations;
- a reservation is granted only if it fits at *every* level, atomically.

Reservations of one tenant are serialised: a PostgreSQL advisory transaction lock, or a
process-wide lock on SQLite (single writer). Reserve and release commit before returning.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import BadRequest, Conflict, Forbidden, QuotaExceeded
from services.kernel.identity import Department, Project, Tenant
from services.kernel.pagination import PageParams, paginate
from services.kernel.tenancy import get_scoped, scoped
from services.quotas import schemas
from services.quotas.models import Quota, QuotaUsage, Reservation

_sqlite_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


@dataclass(frozen=True, slots=True)
class Scope:
    """One level of the quota hierarchy."""

    type: str
    id: str


async def _lock_tenant(session: AsyncSession, tenant_id: str) -> asyncio.Lock | None:
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(tenant_id.encode())
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return None
    lock = _sqlite_locks[tenant_id]
    await lock.acquire()
    return lock


async def _limits(session: AsyncSession, scope: Scope) -> dict[str, int]:
    row = (
        await session.execute(select(Quota).where(Quota.scope_type == scope.type, Quota.scope_id == scope.id))
    ).scalar_one_or_none()
    return dict(row.limits) if row is not None else {}


async def _usage(session: AsyncSession, scope: Scope) -> dict[str, int]:
    rows = (
        await session.execute(
            select(QuotaUsage).where(QuotaUsage.scope_type == scope.type, QuotaUsage.scope_id == scope.id)
        )
    ).scalars()
    return {row.resource: row.used for row in rows if row.used}


async def _scopes_of_project(
    session: AsyncSession, tenant_id: str, project_id: str
) -> tuple[Project, list[Scope]]:
    project = await get_scoped(session, Project, tenant_id=tenant_id, resource_id=project_id, kind="project")
    return project, [
        Scope("tenant", tenant_id),
        Scope("department", project.department_id),
        Scope("project", project.id),
    ]


async def _quota_out(session: AsyncSession, tenant_id: str, scope: Scope) -> schemas.QuotaOut:
    return schemas.QuotaOut(
        scope_type=scope.type,
        scope_id=scope.id,
        tenant_id=tenant_id,
        limits=await _limits(session, scope),
        used=await _usage(session, scope),
    )


# --- limits ---------------------------------------------------------------------------------


async def _parent_and_children(
    session: AsyncSession, tenant_id: str, scope: Scope
) -> tuple[Scope | None, list[Scope]]:
    if scope.type == "tenant":
        departments = (await session.execute(scoped(Department, tenant_id))).scalars()
        return None, [Scope("department", d.id) for d in departments]
    if scope.type == "department":
        await get_scoped(session, Department, tenant_id=tenant_id, resource_id=scope.id, kind="department")
        projects = (
            await session.execute(scoped(Project, tenant_id).where(Project.department_id == scope.id))
        ).scalars()
        return Scope("tenant", tenant_id), [Scope("project", p.id) for p in projects]
    project = await get_scoped(session, Project, tenant_id=tenant_id, resource_id=scope.id, kind="project")
    return Scope("department", project.department_id), []


async def set_limits(
    *, session: AsyncSession, principal: Principal, tenant_id: str, scope: Scope, quota_in: schemas.QuotaSet
) -> schemas.QuotaOut:
    """Set the limits of a scope, keeping every child within its parent.

    Tenant-level limits can only be set by platform administrators (a tenant cannot raise
    its own ceiling); department and project limits need ``quotas:write`` in the tenant.
    """
    principal.require("quotas:write", tenant_id=tenant_id)
    if scope.type == "tenant" and not principal.is_platform_admin:
        raise Forbidden("only platform administrators can set a tenant's quota")
    if await session.get(Tenant, tenant_id) is None:
        raise BadRequest(f"tenant '{tenant_id}' does not exist")
    lock = await _lock_tenant(session, tenant_id)
    try:
        parent, children = await _parent_and_children(session, tenant_id, scope)
        new_limits = dict(quota_in.limits)
        if parent is not None:
            _check_within(new_limits, await _limits(session, parent), child=scope, parent=parent)
        for child in children:
            _check_within(await _limits(session, child), new_limits, child=child, parent=scope)
        row = (
            await session.execute(
                select(Quota).where(Quota.scope_type == scope.type, Quota.scope_id == scope.id)
            )
        ).scalar_one_or_none()
        if row is None:
            session.add(
                Quota(tenant_id=tenant_id, scope_type=scope.type, scope_id=scope.id, limits=new_limits)
            )
        else:
            row.limits = new_limits
        await session.commit()
    finally:
        if lock is not None:
            lock.release()
    return await _quota_out(session, tenant_id, scope)


def _check_within(
    child_limits: dict[str, int], parent_limits: dict[str, int], *, child: Scope, parent: Scope
) -> None:
    for resource, ceiling in parent_limits.items():
        value = child_limits.get(resource)
        if value is not None and value > ceiling:
            raise Conflict(
                f"{child.type} '{child.id}' limit for '{resource}' ({value}) would exceed "
                f"its {parent.type}'s limit ({ceiling})",
                detail={
                    "resource": resource,
                    "child": {"type": child.type, "id": child.id, "limit": value},
                    "parent": {"type": parent.type, "id": parent.id, "limit": ceiling},
                },
            )


async def get_quota(
    *, session: AsyncSession, principal: Principal, tenant_id: str, scope: Scope
) -> schemas.QuotaOut:
    """Limits and usage of one scope of the tenant."""
    principal.require("quotas:read", tenant_id=tenant_id)
    if scope.type == "department":
        await get_scoped(session, Department, tenant_id=tenant_id, resource_id=scope.id, kind="department")
    elif scope.type == "project":
        await get_scoped(session, Project, tenant_id=tenant_id, resource_id=scope.id, kind="project")
    return await _quota_out(session, tenant_id, scope)


async def quota_tree(*, session: AsyncSession, principal: Principal, tenant_id: str) -> schemas.QuotaTree:
    """The tenant's limits and usage at every level."""
    principal.require("quotas:read", tenant_id=tenant_id)
    departments = (
        (await session.execute(scoped(Department, tenant_id).order_by(Department.name))).scalars().all()
    )
    projects = (await session.execute(scoped(Project, tenant_id).order_by(Project.name))).scalars().all()
    return schemas.QuotaTree(
        tenant=await _quota_out(session, tenant_id, Scope("tenant", tenant_id)),
        departments=[await _quota_out(session, tenant_id, Scope("department", d.id)) for d in departments],
        projects=[await _quota_out(session, tenant_id, Scope("project", p.id)) for p in projects],
    )


# --- reservations ---------------------------------------------------------------------------


async def _add_usage(
    session: AsyncSession, tenant_id: str, scope: Scope, resources: dict[str, int], sign: int
) -> None:
    rows = {
        row.resource: row
        for row in (
            await session.execute(
                select(QuotaUsage).where(QuotaUsage.scope_type == scope.type, QuotaUsage.scope_id == scope.id)
            )
        ).scalars()
    }
    for resource, amount in resources.items():
        row = rows.get(resource)
        if row is None:
            session.add(
                QuotaUsage(
                    tenant_id=tenant_id,
                    scope_type=scope.type,
                    scope_id=scope.id,
                    resource=resource,
                    used=sign * amount,
                )
            )
        else:
            row.used += sign * amount


async def reserve(
    *, session: AsyncSession, principal: Principal, tenant_id: str, reservation_in: schemas.ReservationCreate
) -> Reservation:
    """Reserve resources at every level or raise QuotaExceeded naming the level and resource.

    Re-reserving an owner that already holds the same resources returns the existing
    reservation (idempotent retry); different resources for the same owner is a conflict.
    Commits ``session`` before returning — with whatever else the caller added to it — so the
    new usage is durable before the tenant lock is released; callers that must not publish
    their own pending rows yet reserve in a session of their own.
    """
    principal.require("quotas:reserve", tenant_id=tenant_id, project_id=reservation_in.project_id)
    lock = await _lock_tenant(session, tenant_id)
    try:
        project, scopes = await _scopes_of_project(session, tenant_id, reservation_in.project_id)
        existing = (
            await session.execute(
                scoped(Reservation, tenant_id).where(Reservation.owner == reservation_in.owner)
            )
        ).scalar_one_or_none()
        if existing is not None:
            if existing.status == "active" and existing.resources == reservation_in.resources:
                return existing
            raise Conflict(
                f"owner '{reservation_in.owner}' already holds reservation {existing.id} ({existing.status})",
                detail={"reservation_id": existing.id},
            )
        requested = {k: v for k, v in reservation_in.resources.items() if v > 0}
        for scope in scopes:
            limits, used = await _limits(session, scope), await _usage(session, scope)
            for resource, amount in requested.items():
                if resource in limits and used.get(resource, 0) + amount > limits[resource]:
                    raise QuotaExceeded(
                        f"reserving {amount} of '{resource}' would exceed the {scope.type} quota "
                        f"({used.get(resource, 0)} used of {limits[resource]})",
                        detail={
                            "level": scope.type,
                            "scope_id": scope.id,
                            "resource": resource,
                            "limit": limits[resource],
                            "used": used.get(resource, 0),
                            "requested": amount,
                        },
                    )
        for scope in scopes:
            await _add_usage(session, tenant_id, scope, requested, +1)
        reservation = Reservation(
            tenant_id=tenant_id,
            project_id=project.id,
            department_id=project.department_id,
            owner=reservation_in.owner,
            resources=dict(reservation_in.resources),
        )
        session.add(reservation)
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise Conflict(f"owner '{reservation_in.owner}' already has a reservation") from exc
        return reservation
    finally:
        if lock is not None:
            lock.release()


async def release(
    *, session: AsyncSession, principal: Principal, tenant_id: str, reservation_id: str
) -> Reservation:
    """Release a reservation (idempotent): its resources return to every level."""
    principal.ensure_visible(tenant_id, ("reservation", reservation_id))
    lock = await _lock_tenant(session, tenant_id)
    try:
        reservation = await get_scoped(
            session, Reservation, tenant_id=tenant_id, resource_id=reservation_id, kind="reservation"
        )
        principal.require("quotas:reserve", tenant_id=tenant_id, project_id=reservation.project_id)
        if reservation.status == "active":
            scopes = [
                Scope("tenant", tenant_id),
                Scope("department", reservation.department_id),
                Scope("project", reservation.project_id),
            ]
            for scope in scopes:
                await _add_usage(session, tenant_id, scope, reservation.resources, -1)
            reservation.status = "released"
            reservation.released_at = utcnow()
            await session.commit()
        return reservation
    finally:
        if lock is not None:
            lock.release()


async def get_reservation(
    *, session: AsyncSession, principal: Principal, tenant_id: str, reservation_id: str
) -> Reservation:
    """One reservation of the tenant."""
    principal.ensure_visible(tenant_id, ("reservation", reservation_id))
    reservation = await get_scoped(
        session, Reservation, tenant_id=tenant_id, resource_id=reservation_id, kind="reservation"
    )
    principal.require("quotas:read", tenant_id=tenant_id, project_id=reservation.project_id)
    return reservation


async def list_reservations(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    page: PageParams,
    filters: dict[str, Any],
) -> tuple[list[Reservation], int]:
    """Reservations of the tenant, filtered by ``project_id`` and/or ``status``."""
    principal.require("quotas:read", tenant_id=tenant_id)
    query = scoped(Reservation, tenant_id).order_by(Reservation.created_at, Reservation.id)
    for name in ("project_id", "status"):
        if filters.get(name) is not None:
            query = query.where(getattr(Reservation, name) == filters[name])
    return await paginate(session, query, page)
