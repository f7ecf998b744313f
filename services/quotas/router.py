"""HTTP routes of the quota service. No logic here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern
from services.quotas import schemas, service
from services.quotas.service import Scope

router = APIRouter(prefix="/v1/tenants/{tenant_id}", tags=["quotas"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
ScopeId = Annotated[str, Path(pattern=ResourceIdPattern)]


@router.get("/quotas", response_model=schemas.QuotaTree, summary="Limits and usage at every level")
async def quota_tree(tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal) -> object:
    return await service.quota_tree(session=session, principal=principal, tenant_id=tenant_id)


@router.get("/quota", response_model=schemas.QuotaOut, summary="The tenant-level quota")
async def get_tenant_quota(tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal) -> object:
    return await service.get_quota(
        session=session, principal=principal, tenant_id=tenant_id, scope=Scope("tenant", tenant_id)
    )


@router.put("/quota", response_model=schemas.QuotaOut, summary="Set the tenant-level quota (platform admin)")
async def set_tenant_quota(
    tenant_id: TenantId, body: schemas.QuotaSet, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.set_limits(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        scope=Scope("tenant", tenant_id),
        quota_in=body,
    )


@router.get(
    "/{scope_type}/{scope_id}/quota", response_model=schemas.QuotaOut, summary="A department or project quota"
)
async def get_scope_quota(
    tenant_id: TenantId,
    scope_type: Literal["departments", "projects"],
    scope_id: ScopeId,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> object:
    scope = Scope(scope_type.removesuffix("s"), scope_id)
    return await service.get_quota(session=session, principal=principal, tenant_id=tenant_id, scope=scope)


@router.put(
    "/{scope_type}/{scope_id}/quota",
    response_model=schemas.QuotaOut,
    summary="Set a department or project quota",
)
async def set_scope_quota(
    tenant_id: TenantId,
    scope_type: Literal["departments", "projects"],
    scope_id: ScopeId,
    body: schemas.QuotaSet,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> object:
    scope = Scope(scope_type.removesuffix("s"), scope_id)
    return await service.set_limits(
        session=session, principal=principal, tenant_id=tenant_id, scope=scope, quota_in=body
    )


@router.post("/reservations", response_model=schemas.ReservationOut, status_code=status.HTTP_201_CREATED)
async def reserve(
    tenant_id: TenantId, body: schemas.ReservationCreate, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.reserve(
        session=session, principal=principal, tenant_id=tenant_id, reservation_in=body
    )


@router.get("/reservations", response_model=Page[schemas.ReservationOut])
async def list_reservations(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    project_id: Annotated[str | None, Query(pattern=ResourceIdPattern)] = None,
    status: Annotated[Literal["active", "released"] | None, Query()] = None,
) -> object:
    items, total = await service.list_reservations(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        page=page,
        filters={"project_id": project_id, "status": status},
    )
    return page_of(items, total, page)


@router.get("/reservations/{reservation_id}", response_model=schemas.ReservationOut)
async def get_reservation(
    tenant_id: TenantId, reservation_id: ScopeId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_reservation(
        session=session, principal=principal, tenant_id=tenant_id, reservation_id=reservation_id
    )


@router.delete("/reservations/{reservation_id}", response_model=schemas.ReservationOut, summary="Release")
async def release(
    tenant_id: TenantId, reservation_id: ScopeId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.release(
        session=session, principal=principal, tenant_id=tenant_id, reservation_id=reservation_id
    )
