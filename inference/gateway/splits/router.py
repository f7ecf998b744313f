"""HTTP surface of routes: ``/v1/tenants/{tenant_id}/inference/routes``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from inference.gateway.splits import service
from inference.gateway.splits.schemas import RouteCreate, RouteOut, RouteUpdate
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.pagination import Page, PageDep

router = APIRouter(prefix="/v1/tenants/{tenant_id}/inference/routes", tags=["inference routes"])


@router.post("", status_code=201, response_model=RouteOut, summary="Create a traffic split or a model chain")
async def create_route(
    tenant_id: str, route_in: RouteCreate, session: SessionDep, principal: CurrentPrincipal
) -> Any:
    return await service.create_route(
        session=session, principal=principal, tenant_id=tenant_id, route_in=route_in
    )


@router.get("", response_model=Page[RouteOut], summary="List routes")
async def list_routes(tenant_id: str, session: SessionDep, principal: CurrentPrincipal, page: PageDep) -> Any:
    rows, total = await service.list_routes(
        session=session, principal=principal, tenant_id=tenant_id, page=page
    )
    return Page[RouteOut](items=rows, total=total, limit=page.limit, offset=page.offset)


@router.get("/{route_id}", response_model=RouteOut, summary="Get a route")
async def get_route(tenant_id: str, route_id: str, session: SessionDep, principal: CurrentPrincipal) -> Any:
    return await service.get_route(
        session=session, principal=principal, tenant_id=tenant_id, route_id=route_id
    )


@router.patch("/{route_id}", response_model=RouteOut, summary="Change weights, steps or enable/disable")
async def update_route(
    tenant_id: str, route_id: str, update: RouteUpdate, session: SessionDep, principal: CurrentPrincipal
) -> Any:
    return await service.update_route(
        session=session, principal=principal, tenant_id=tenant_id, route_id=route_id, update=update
    )


@router.delete("/{route_id}", status_code=204, summary="Delete a route")
async def delete_route(
    tenant_id: str, route_id: str, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await service.delete_route(session=session, principal=principal, tenant_id=tenant_id, route_id=route_id)
    return Response(status_code=204)


@router.get("/{route_id}/stats", summary="Per-variant requests, errors, latency and tokens")
async def route_stats(
    tenant_id: str, route_id: str, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    row = await service.get_route(
        session=session, principal=principal, tenant_id=tenant_id, route_id=route_id
    )
    from inference.gateway.requestlog import variant_stats

    variants = await variant_stats(session, tenant_id=tenant_id, route_id=row.id)
    return {"route_id": row.id, "name": row.name, "kind": row.kind, "variants": variants}
