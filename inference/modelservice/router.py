"""HTTP routes of model services (``/v1/tenants/{tenant_id}/model-services``). No logic here.

Reads need ``models:read``; create, start, stop, test, scale, autoscaling and delete need
``models:write`` (developers and tenant administrators).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from inference.modelservice import schemas, service, views
from inference.modelservice.replicas import replicas_of
from inference.modelservice.runtime import RuntimeDep, change_and_wake
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1/tenants/{tenant_id}/model-services", tags=["model-services"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
ServiceId = Annotated[str, Path(pattern=ResourceIdPattern, description="Model service id (msv_…)")]


async def _out(session: SessionDep, svc: Any) -> schemas.ModelServiceOut:
    return views.service_out(svc, await replicas_of(session, svc.id))


@router.post("", response_model=schemas.ModelServiceOut, status_code=status.HTTP_201_CREATED)
async def create_model_service(
    tenant_id: TenantId,
    body: schemas.ModelServiceCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> object:
    """Create a model service; with ``start`` (default) its replicas are submitted as scheduler jobs."""

    async def change() -> Any:
        return await service.create_service(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            body=body,
            options=runtime.options,
            system=runtime.system,
            kms=runtime.kms,
        )

    svc = await change_and_wake(session, runtime, change)
    return await _out(session, svc)


@router.get("", response_model=Page[schemas.ModelServiceOut])
async def list_model_services(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    project_id: Annotated[str | None, Query(pattern=ResourceIdPattern)] = None,
    state: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
    engine: Annotated[str | None, Query(pattern=r"^[a-z]{1,16}$")] = None,
) -> object:
    """The tenant's model services."""
    rows, total = await service.list_services(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        page=page,
        filters={"project_id": project_id, "state": state, "engine": engine},
    )
    return page_of([await _out(session, r) for r in rows], total, page)


@router.get("/{service_id}", response_model=schemas.ModelServiceOut)
async def get_model_service(
    tenant_id: TenantId, service_id: ServiceId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    """Model information: source, engine (inference mode), resources, replicas, state."""
    svc = await service.get_service(
        session=session, principal=principal, tenant_id=tenant_id, service_id=service_id
    )
    return await _out(session, svc)


@router.get("/{service_id}/replicas", response_model=list[schemas.ReplicaOut])
async def list_replicas(
    tenant_id: TenantId, service_id: ServiceId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    """The service's replicas: job, node, address, health state."""
    svc = await service.get_service(
        session=session, principal=principal, tenant_id=tenant_id, service_id=service_id
    )
    return await replicas_of(session, svc.id)


@router.get("/{service_id}/interface")
async def get_interface(
    tenant_id: TenantId, service_id: ServiceId, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Interface information: OpenAI endpoints on the gateway, request formats, versions, instances."""
    svc = await service.get_service(
        session=session, principal=principal, tenant_id=tenant_id, service_id=service_id
    )
    return await views.interface(session, svc, await replicas_of(session, svc.id))


@router.get("/{service_id}/status")
async def get_status(
    tenant_id: TenantId,
    service_id: ServiceId,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    """Running state, replicas, call volume, success rate, latency and per-replica resource use."""
    svc = await service.get_service(
        session=session, principal=principal, tenant_id=tenant_id, service_id=service_id
    )
    out = await views.status(
        session, svc, await replicas_of(session, svc.id), executor=runtime.executor(), http=runtime.http
    )
    decision = runtime.autoscaler.last_decisions.get(svc.id) if runtime.autoscaler is not None else None
    out["autoscaler"] = (
        None
        if decision is None
        else {
            "at": decision[0],
            "current": decision[1].current,
            "desired": decision[1].desired,
            "recommendation": decision[1].recommendation,
            "reason": decision[1].reason,
            "metrics": {
                k: {"average": v.average, "target": v.target, "proposal": v.proposal}
                for k, v in decision[1].metrics.items()
            },
        }
    )
    return out


@router.get("/{service_id}/events", response_model=Page[schemas.EventOut])
async def list_events(
    tenant_id: TenantId,
    service_id: ServiceId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
) -> object:
    """What happened to the service (newest first): lifecycle, scaling, replica health."""
    rows, total = await service.service_events(
        session=session, principal=principal, tenant_id=tenant_id, service_id=service_id, page=page
    )
    return page_of(rows, total, page)


@router.post("/{service_id}/start", response_model=schemas.ModelServiceOut)
async def start_model_service(
    tenant_id: TenantId,
    service_id: ServiceId,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> object:
    """Run the service (again); failed replicas are replaced."""

    async def change() -> Any:
        return await service.start_service(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            service_id=service_id,
            options=runtime.options,
            system=runtime.system,
        )

    return await _out(session, await change_and_wake(session, runtime, change))


@router.post("/{service_id}/stop", response_model=schemas.ModelServiceOut)
async def stop_model_service(
    tenant_id: TenantId,
    service_id: ServiceId,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> object:
    """Stop every replica (their scheduler jobs are deleted); the service is kept."""

    async def change() -> Any:
        return await service.stop_service(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            service_id=service_id,
            options=runtime.options,
            system=runtime.system,
        )

    return await _out(session, await change_and_wake(session, runtime, change))


@router.post("/{service_id}/test")
async def test_model_service(
    tenant_id: TenantId,
    service_id: ServiceId,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    body: schemas.TestIn | None = None,
) -> dict[str, Any]:
    """Send one chat completion to a ready replica; returns the answer and the latency."""
    svc = await service.get_service(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        service_id=service_id,
        permission="models:write",
    )
    return await views.test_call(
        session, svc, body or schemas.TestIn(), http=runtime.http, secrets=runtime.secrets
    )


@router.post("/{service_id}/scale", response_model=schemas.ModelServiceOut)
async def scale_model_service(
    tenant_id: TenantId,
    service_id: ServiceId,
    body: schemas.ScaleIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> object:
    """Manual scaling to ``replicas``."""

    async def change() -> Any:
        return await service.scale_service(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            service_id=service_id,
            replicas=body.replicas,
            options=runtime.options,
            system=runtime.system,
        )

    return await _out(session, await change_and_wake(session, runtime, change))


@router.put("/{service_id}/autoscaling", response_model=schemas.ModelServiceOut)
async def put_autoscaling(
    tenant_id: TenantId,
    service_id: ServiceId,
    body: schemas.AutoscalingIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> object:
    """Set the autoscaling policy and bounds (``enabled: false`` turns it off)."""

    async def change() -> Any:
        return await service.set_autoscaling(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            service_id=service_id,
            body=body,
            options=runtime.options,
            system=runtime.system,
        )

    return await _out(session, await change_and_wake(session, runtime, change))


@router.delete("/{service_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_model_service(
    tenant_id: TenantId,
    service_id: ServiceId,
    session: SessionDep,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> Response:
    """Delete the service and its replicas' jobs."""

    async def change() -> None:
        await service.delete_service(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            service_id=service_id,
            system=runtime.system,
        )

    await change_and_wake(session, runtime, change)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
