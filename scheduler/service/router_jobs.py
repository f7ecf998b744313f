"""HTTP routes of jobs: submit, list, inspect, lifecycle, events, logs, metrics. No logic here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.model import JobState
from scheduler.service import jobs, schemas
from scheduler.service.deps import ControllerDep, change_and_wake, commit_and_wake
from scheduler.service.jobspec import JobCreate
from scheduler.service.models import JobRow
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1/tenants/{tenant_id}/jobs", tags=["jobs"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
JobId = Annotated[str, Path(pattern=ResourceIdPattern, description="Job id (job_…)")]
TaskName = Annotated[
    str, Path(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?-[0-9]{1,4}$", description="Task name")
]


async def _out(session: AsyncSession, job: JobRow) -> schemas.JobOut:
    return schemas.JobOut.of(await jobs.job_view(session, job))


@router.post("", response_model=schemas.JobOut, status_code=status.HTTP_201_CREATED, summary="Submit a job")
async def create_job(
    tenant_id: TenantId,
    body: JobCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    job = await jobs.create_job(session=session, principal=principal, tenant_id=tenant_id, job_in=body)
    await commit_and_wake(session, controller)
    return await _out(session, job)


@router.get("", response_model=Page[schemas.JobOut])
async def list_jobs(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    state: Annotated[JobState | None, Query()] = None,
    project_id: Annotated[str | None, Query(pattern=ResourceIdPattern)] = None,
) -> object:
    views, total = await jobs.list_jobs(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        page=page,
        filters={"state": state.value if state else None, "project_id": project_id},
    )
    return page_of([schemas.JobOut.of(v) for v in views], total, page)


@router.get("/{job_id}", response_model=schemas.JobOut)
async def get_job(
    tenant_id: TenantId, job_id: JobId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return schemas.JobOut.of(
        await jobs.get_job(session=session, principal=principal, tenant_id=tenant_id, job_id=job_id)
    )


@router.delete(
    "/{job_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Cancel (if unfinished) and delete"
)
async def delete_job(
    tenant_id: TenantId,
    job_id: JobId,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> None:
    await change_and_wake(
        session,
        controller,
        lambda: jobs.delete_job(session=session, principal=principal, tenant_id=tenant_id, job_id=job_id),
    )


@router.post("/{job_id}/start", response_model=schemas.JobOut, summary="Start a job created with start=false")
async def start_job(
    tenant_id: TenantId,
    job_id: JobId,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    job = await change_and_wake(
        session,
        controller,
        lambda: jobs.resume_job(
            session=session, principal=principal, tenant_id=tenant_id, job_id=job_id, first_start=True
        ),
    )
    return await _out(session, job)


@router.post("/{job_id}/suspend", response_model=schemas.JobOut, summary="Stop the tasks, keep the job")
async def suspend_job(
    tenant_id: TenantId,
    job_id: JobId,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    job = await change_and_wake(
        session,
        controller,
        lambda: jobs.suspend_job(session=session, principal=principal, tenant_id=tenant_id, job_id=job_id),
    )
    return await _out(session, job)


@router.post("/{job_id}/resume", response_model=schemas.JobOut, summary="Queue a suspended job again")
async def resume_job(
    tenant_id: TenantId,
    job_id: JobId,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    job = await change_and_wake(
        session,
        controller,
        lambda: jobs.resume_job(
            session=session, principal=principal, tenant_id=tenant_id, job_id=job_id, first_start=False
        ),
    )
    return await _out(session, job)


@router.get("/{job_id}/events", response_model=Page[schemas.JobEventOut])
async def job_events(
    tenant_id: TenantId, job_id: JobId, session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> object:
    rows, total = await jobs.job_events(
        session=session, principal=principal, tenant_id=tenant_id, job_id=job_id, page=page
    )
    return page_of(rows, total, page)


@router.get("/{job_id}/tasks/{task_name}/logs", response_model=schemas.TaskLogsOut)
async def task_logs(
    tenant_id: TenantId,
    job_id: JobId,
    task_name: TaskName,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
    attempt: Annotated[int | None, Query(ge=0, le=10_000)] = None,
    tail: Annotated[int, Query(ge=1, le=16 * 2**20, description="bytes from the end")] = 65536,
) -> object:
    return await jobs.task_logs(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        job_id=job_id,
        task_name=task_name,
        attempt=attempt,
        tail_bytes=tail,
        executor=controller.executor,
    )


@router.get("/{job_id}/metrics", response_model=schemas.JobMetricsOut)
async def job_metrics(
    tenant_id: TenantId,
    job_id: JobId,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    return await jobs.job_metrics(
        session=session, principal=principal, tenant_id=tenant_id, job_id=job_id, executor=controller.executor
    )
