"""Route CRUD; every call is scoped to one tenant and checked against the caller's permissions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inference.gateway.splits.models import InferenceRoute
from inference.gateway.splits.schemas import ChainSpec, RouteCreate, RouteUpdate, SplitSpec
from services.kernel.auth import Principal
from services.kernel.errors import BadRequest, Conflict
from services.kernel.pagination import PageParams, paginate
from services.kernel.tenancy import get_scoped, require_tenant, scoped

KIND = "inference route"


def _document(split: SplitSpec | None, chain: ChainSpec | None) -> tuple[str, dict[str, Any]]:
    if split is not None:
        return "split", split.model_dump(mode="json")
    assert chain is not None
    return "chain", chain.model_dump(mode="json")


async def _services_named(session: AsyncSession, tenant_id: str) -> set[str] | None:
    """Names of the tenant's model services, or None when the model-service tables are not installed."""
    try:
        from inference.modelservice.models import ModelService
    except ImportError:  # the gateway can run without the model-service module
        return None
    rows = await session.execute(select(ModelService.name).where(ModelService.tenant_id == tenant_id))
    return {name for (name,) in rows}


async def _check_services(session: AsyncSession, tenant_id: str, kind: str, spec: dict[str, Any]) -> None:
    known = await _services_named(session, tenant_id)
    if known is None:
        return
    wanted = (
        [v["service"] for v in spec["variants"]] if kind == "split" else [s["service"] for s in spec["steps"]]
    )
    for index, name in enumerate(wanted):
        if name not in known:
            field = "split.variants" if kind == "split" else "chain.steps"
            raise BadRequest(
                f"{field}[{index}].service: no model service named '{name}' in this tenant",
                detail={"field": f"{field}[{index}].service", "service": name},
            )


async def create_route(
    *, session: AsyncSession, principal: Principal, tenant_id: str, route_in: RouteCreate
) -> InferenceRoute:
    """Store a new route; 400 names a variant/step whose service does not exist, 409 a taken name."""
    principal.require("inference:admin", tenant_id=tenant_id)
    await require_tenant(session, tenant_id)
    kind, spec = _document(route_in.split, route_in.chain)
    await _check_services(session, tenant_id, kind, spec)
    row = InferenceRoute(
        tenant_id=tenant_id,
        name=route_in.name,
        kind=kind,
        description=route_in.description,
        spec=spec,
        enabled=route_in.enabled,
        created_by=principal.id,
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            f"a route named '{route_in.name}' already exists", detail={"name": route_in.name}
        ) from None
    return row


async def get_route(
    *, session: AsyncSession, principal: Principal, tenant_id: str, route_id: str
) -> InferenceRoute:
    """One route of the tenant (404 for other tenants' ids)."""
    principal.require("inference:read", tenant_id=tenant_id, resource=(KIND, route_id))
    return await get_scoped(session, InferenceRoute, tenant_id=tenant_id, resource_id=route_id, kind=KIND)


async def list_routes(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams
) -> tuple[list[InferenceRoute], int]:
    """The tenant's routes by name."""
    principal.require("inference:read", tenant_id=tenant_id)
    return await paginate(session, scoped(InferenceRoute, tenant_id).order_by(InferenceRoute.name), page)


async def update_route(
    *, session: AsyncSession, principal: Principal, tenant_id: str, route_id: str, update: RouteUpdate
) -> InferenceRoute:
    """Replace the route's document (same kind) or toggle it."""
    principal.require("inference:admin", tenant_id=tenant_id, resource=(KIND, route_id))
    row = await get_scoped(session, InferenceRoute, tenant_id=tenant_id, resource_id=route_id, kind=KIND)
    if update.split is not None and update.chain is not None:
        raise BadRequest("give at most one of 'split' and 'chain'", detail={"field": "split"})
    if update.split is not None or update.chain is not None:
        kind, spec = _document(update.split, update.chain)
        if kind != row.kind:
            raise BadRequest(f"route '{row.name}' is a {row.kind}; send '{row.kind}'", detail={"field": kind})
        await _check_services(session, tenant_id, kind, spec)
        row.spec = spec
    if update.description is not None:
        row.description = update.description
    if update.enabled is not None:
        row.enabled = update.enabled
    await session.commit()
    return row


async def delete_route(*, session: AsyncSession, principal: Principal, tenant_id: str, route_id: str) -> None:
    """Remove a route; its name falls back to the model service of that name, if any."""
    principal.require("inference:admin", tenant_id=tenant_id, resource=(KIND, route_id))
    row = await get_scoped(session, InferenceRoute, tenant_id=tenant_id, resource_id=route_id, kind=KIND)
    await session.delete(row)
    await session.commit()


async def enabled_routes(session: AsyncSession) -> list[InferenceRoute]:
    """Every enabled route of every tenant (the gateway's routing table reads this)."""
    rows = await session.execute(select(InferenceRoute).where(InferenceRoute.enabled.is_(True)))
    return list(rows.scalars().all())
