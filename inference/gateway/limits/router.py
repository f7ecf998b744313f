"""HTTP routes of the per-key rate limits, under ``/v1/tenants/{tenant_id}/inference/rate-limits``.

Reading needs ``inference:read``, changing ``inference:admin``. A change also clears this
process's :class:`~inference.gateway.limits.store.LimitsCache` when the gateway keeps one as
``app.state.inference_limits_cache``; other replicas see it within the cache's TTL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from inference.gateway.limits import store
from inference.gateway.limits.schemas import LimitsIn, LimitsOut, TenantLimitsOut
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1/tenants/{tenant_id}/inference/rate-limits", tags=["inference"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
KeyId = Annotated[str, Path(pattern=ResourceIdPattern, description="API key id (key_…)")]


def _invalidate(request: Request) -> None:
    cache = getattr(request.app.state, "inference_limits_cache", None)
    if isinstance(cache, store.LimitsCache):
        cache.invalidate()


@router.get("", response_model=TenantLimitsOut, summary="The tenant's default and per-key rate limits")
async def get_limits(
    tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal
) -> TenantLimitsOut:
    default, keys = await store.list_limits(session=session, principal=principal, tenant_id=tenant_id)
    return TenantLimitsOut(
        default=None if default is None else LimitsOut.model_validate(default),
        keys=[LimitsOut.model_validate(row) for row in keys],
    )


@router.put("/default", response_model=LimitsOut, summary="Set the default limits of the tenant's keys")
async def put_default(
    tenant_id: TenantId, body: LimitsIn, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> object:
    row = await store.put_default(
        session=session, principal=principal, tenant_id=tenant_id, limits=body.as_limits()
    )
    _invalidate(request)
    return row


@router.delete(
    "/default", status_code=status.HTTP_204_NO_CONTENT, summary="Remove the default (keys become unlimited)"
)
async def delete_default(
    tenant_id: TenantId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await store.delete_default(session=session, principal=principal, tenant_id=tenant_id)
    _invalidate(request)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/keys/{key_id}", response_model=LimitsOut, summary="Set one API key's limits")
async def put_key(
    tenant_id: TenantId,
    key_id: KeyId,
    body: LimitsIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> object:
    row = await store.put_key(
        session=session, principal=principal, tenant_id=tenant_id, key_id=key_id, limits=body.as_limits()
    )
    _invalidate(request)
    return row


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove one API key's limits (it falls back to the default)",
)
async def delete_key(
    tenant_id: TenantId, key_id: KeyId, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await store.delete_key(session=session, principal=principal, tenant_id=tenant_id, key_id=key_id)
    _invalidate(request)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
