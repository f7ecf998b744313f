"""HTTP routes of the tenant's queues. No logic here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from scheduler.service import queues, schemas
from scheduler.service.deps import ControllerDep, commit_and_wake
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1/tenants/{tenant_id}/queues", tags=["queues"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
QueueId = Annotated[str, Path(pattern=ResourceIdPattern, description="Queue id (que_…)")]


@router.post("", response_model=schemas.QueueOut, status_code=status.HTTP_201_CREATED)
async def create_queue(
    tenant_id: TenantId,
    body: schemas.QueueCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await queues.create_queue(session=session, principal=principal, tenant_id=tenant_id, queue_in=body)
    await commit_and_wake(session, controller)
    return (await queues.with_usage(session, tenant_id, [row]))[0]


@router.get("", response_model=Page[schemas.QueueOut])
async def list_queues(
    tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> object:
    rows = await queues.list_queues(session=session, principal=principal, tenant_id=tenant_id)
    shown = await queues.with_usage(session, tenant_id, rows[page.offset : page.offset + page.limit])
    return page_of(shown, len(rows), page)


@router.get("/{queue_id}", response_model=schemas.QueueOut)
async def get_queue(
    tenant_id: TenantId, queue_id: QueueId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    row = await queues.get_queue(session=session, principal=principal, tenant_id=tenant_id, queue_id=queue_id)
    return (await queues.with_usage(session, tenant_id, [row]))[0]


@router.patch("/{queue_id}", response_model=schemas.QueueOut)
async def update_queue(
    tenant_id: TenantId,
    queue_id: QueueId,
    body: schemas.QueueUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await queues.update_queue(
        session=session, principal=principal, tenant_id=tenant_id, queue_id=queue_id, queue_in=body
    )
    await commit_and_wake(session, controller)
    return (await queues.with_usage(session, tenant_id, [row]))[0]


@router.delete("/{queue_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_queue(
    tenant_id: TenantId,
    queue_id: QueueId,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> None:
    await queues.delete_queue(session=session, principal=principal, tenant_id=tenant_id, queue_id=queue_id)
    await commit_and_wake(session, controller)
