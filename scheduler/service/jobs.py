"""Job service: submit, list, inspect, start, suspend, resume and delete jobs; events, logs, metrics.

Submission validates the spec against the live inventory and queues (422 naming the field),
reserves the job's quota through ``services.quotas`` (409 when a level is exceeded) and stores
the job with one row per task. Everything after that — placement, launch, recovery, release of
the quota — is done by the scheduling loop (:mod:`scheduler.service.controller`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.executors.base import Executor, TaskKey
from scheduler.model import InvalidTransitionError, JobEvent, JobSpecError, JobState, transition, validate_job
from scheduler.model.state import TERMINAL
from scheduler.model.topology import DEFAULT_TIERS
from scheduler.service.inventory import load_inventory, next_seq
from scheduler.service.jobspec import JobCreate, core_spec, task_names
from scheduler.service.models import JobEventRow, JobRow, QueueRow, TaskRow
from scheduler.service.queues import load_queue_tree, queue_for_job
from scheduler.service.quota import job_resources
from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import BadRequest, Conflict, NotFound, STICError
from services.kernel.identity import Project
from services.kernel.pagination import PageParams, paginate
from services.kernel.tenancy import get_scoped, scoped
from services.quotas import service as quotas
from services.quotas.schemas import ReservationCreate

ACTIVE_TASK_STATES = ("placed", "running", "backoff", "stopping")


class InvalidJobSpec(STICError):
    """The job spec is well-formed but cannot be accepted; ``detail.field`` names the field."""

    status_code = 422
    code = "invalid_job_spec"


def add_event(
    session: AsyncSession,
    job: JobRow,
    kind: str,
    message: str,
    *,
    source: str | None = None,
    target: str | None = None,
    task: str | None = None,
) -> None:
    """Append an event to the job's history (in the caller's transaction)."""
    session.add(
        JobEventRow(
            tenant_id=job.tenant_id,
            job_id=job.id,
            kind=kind,
            message=message[:1000],
            source=source,
            target=target,
            task=task,
            seq=next_seq(),
        )
    )


def apply_event(session: AsyncSession, job: JobRow, event: JobEvent, reason: str) -> None:
    """Move the job through the state machine (Conflict if not allowed) and record it."""
    source = JobState(job.state)
    try:
        target = transition(source, event)
    except InvalidTransitionError as exc:
        raise Conflict(
            f"cannot {event.value} a job that is {source.value}", detail={"state": source.value}
        ) from exc
    job.state = target.value
    add_event(
        session, job, "transition", f"{event.value}: {reason}", source=source.value, target=target.value
    )
    if target in TERMINAL:
        job.finished_at = utcnow()


async def create_job(
    *, session: AsyncSession, principal: Principal, tenant_id: str, job_in: JobCreate
) -> JobRow:
    """Validate, reserve quota and store a job with its tasks (state ``pending``, or held)."""
    principal.require("jobs:write", tenant_id=tenant_id, project_id=job_in.project_id)
    project = (
        await session.execute(scoped(Project, tenant_id).where(Project.id == job_in.project_id))
    ).scalar_one_or_none()
    if project is None:
        raise InvalidJobSpec(
            f"project_id: unknown project '{job_in.project_id}'", detail={"field": "project_id"}
        )
    if (await session.execute(scoped(JobRow, tenant_id).where(JobRow.name == job_in.name))).first():
        raise Conflict(f"job '{job_in.name}' already exists", detail={"field": "name"})
    try:
        queue = await queue_for_job(session, tenant_id=tenant_id, name=job_in.queue, project_id=project.id)
    except BadRequest as exc:
        raise InvalidJobSpec(exc.message, detail=exc.detail) from exc
    view = await load_inventory(session)
    tree = await load_queue_tree(session)
    data = job_in.model_dump(mode="json")
    job = JobRow(
        tenant_id=tenant_id,
        project_id=project.id,
        queue_id=queue.id,
        name=job_in.name,
        type=job_in.type.value,
        spec=data,
        state=JobState.PENDING.value if job_in.start else JobState.SUSPENDED.value,
        created_by=principal.id,
        reasons=[] if job_in.start else ["held: created with start=false"],
    )
    try:
        validate_job(
            core_spec(data, job_id=job.id, queue=queue.id, created_at=0.0),
            accelerator_models=view.inventory.accelerator_models().values(),
            tiers=DEFAULT_TIERS,
            queues=tree.queues,
            leaf_queues=[q for q in tree.queues if tree.is_leaf(q)],
        )
    except JobSpecError as exc:
        raise InvalidJobSpec(f"{exc.field}: {exc.message}", detail={"field": exc.field}) from exc
    resources = job_resources(data, view.inventory.accelerator_models().values())
    if resources:
        reservation = await quotas.reserve(
            session=session,
            principal=principal,
            tenant_id=tenant_id,
            reservation_in=ReservationCreate(
                project_id=project.id, owner=f"job:{job.id}", resources=resources
            ),
        )
        job.reservation_id = reservation.id
    session.add(job)
    await session.flush()
    for name, group, rank in task_names(data):
        session.add(TaskRow(tenant_id=tenant_id, job_id=job.id, name=name, group=group, rank=rank))
    add_event(session, job, "submitted", f"by {principal.name} to queue {queue.name}; reserved {resources}")
    await session.flush()
    return job


async def _job(
    session: AsyncSession, principal: Principal, tenant_id: str, job_id: str, permission: str
) -> JobRow:
    principal.ensure_visible(tenant_id, ("job", job_id))
    job = await get_scoped(session, JobRow, tenant_id=tenant_id, resource_id=job_id, kind="job")
    if job.deleted:
        raise NotFound.of("job", job_id)
    principal.require(permission, tenant_id=tenant_id, project_id=job.project_id, resource=("job", job_id))
    return job


async def tasks_of(session: AsyncSession, job_id: str) -> list[TaskRow]:
    """The job's tasks by rank."""
    query = select(TaskRow).where(TaskRow.job_id == job_id).order_by(TaskRow.rank)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class JobView:
    """A job with its queue's name and its tasks."""

    job: JobRow
    queue: str
    tasks: list[TaskRow]


async def job_view(session: AsyncSession, job: JobRow) -> JobView:
    """The API view of a job: row, queue name and tasks."""
    queue = await session.get(QueueRow, job.queue_id)
    return JobView(job, queue.name if queue is not None else "", await tasks_of(session, job.id))


async def get_job(*, session: AsyncSession, principal: Principal, tenant_id: str, job_id: str) -> JobView:
    """One job with its tasks."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:read")
    return await job_view(session, job)


async def list_jobs(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams, filters: dict[str, Any]
) -> tuple[list[JobView], int]:
    """The tenant's jobs (newest first), filtered by ``state`` and/or ``project_id``."""
    principal.require("jobs:read", tenant_id=tenant_id)
    query = (
        scoped(JobRow, tenant_id)
        .where(JobRow.deleted.is_(False))
        .order_by(JobRow.created_at.desc(), JobRow.id)
    )
    for name in ("state", "project_id"):
        if filters.get(name) is not None:
            query = query.where(getattr(JobRow, name) == filters[name])
    rows, total = await paginate(session, query, page)
    return [await job_view(session, r) for r in rows], total


def _release_tasks(tasks: list[TaskRow]) -> None:
    for task in tasks:
        if task.state in ("running", "stopping"):
            task.state = "stopping"
        elif task.state in ("placed", "backoff", "pending"):
            task.state, task.node, task.devices = "pending", None, []


async def suspend_job(*, session: AsyncSession, principal: Principal, tenant_id: str, job_id: str) -> JobRow:
    """Stop the job's tasks and keep the job (and its quota) until resumed."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:write")
    apply_event(session, job, JobEvent.SUSPEND, f"by {principal.name}")
    job.reasons = [f"suspended by {principal.name}"]
    _release_tasks(await tasks_of(session, job.id))
    return job


async def resume_job(
    *, session: AsyncSession, principal: Principal, tenant_id: str, job_id: str, first_start: bool
) -> JobRow:
    """``/start`` a held job that never ran, or ``/resume`` any suspended job: it queues again."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:write")
    if first_start and job.started_once:
        raise Conflict("cannot start this job: it has run before; use /resume", detail={"state": job.state})
    apply_event(
        session, job, JobEvent.RESUME, f"{'started' if first_start else 'resumed'} by {principal.name}"
    )
    job.reasons, job.not_before = [], None
    return job


async def delete_job(*, session: AsyncSession, principal: Principal, tenant_id: str, job_id: str) -> None:
    """Cancel the job if it is unfinished (its tasks are stopped, its quota released) and hide it."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:write")
    if JobState(job.state) not in TERMINAL:
        apply_event(session, job, JobEvent.CANCEL, f"deleted by {principal.name}")
        _release_tasks(await tasks_of(session, job.id))
    job.deleted = True


async def job_events(
    *, session: AsyncSession, principal: Principal, tenant_id: str, job_id: str, page: PageParams
) -> tuple[list[JobEventRow], int]:
    """The job's events, oldest first."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:read")
    query = select(JobEventRow).where(JobEventRow.job_id == job.id).order_by(JobEventRow.seq)
    return await paginate(session, query, page)


async def _task(session: AsyncSession, job: JobRow, name: str) -> TaskRow:
    task = (
        await session.execute(select(TaskRow).where(TaskRow.job_id == job.id, TaskRow.name == name))
    ).scalar_one_or_none()
    if task is None:
        raise NotFound.of("task", name)
    return task


async def task_logs(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    job_id: str,
    task_name: str,
    attempt: int | None,
    tail_bytes: int,
    executor: Executor,
) -> dict[str, Any]:
    """The end of a task attempt's output (default: the latest attempt)."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:read")
    task = await _task(session, job, task_name)
    chosen = task.attempt if attempt is None else attempt
    if chosen > task.attempt:
        raise NotFound.of("attempt", str(chosen))
    content = await executor.logs(TaskKey(task.id, chosen), tail_bytes=tail_bytes)
    return {"task": task.name, "attempt": chosen, "content": content}


async def job_metrics(
    *, session: AsyncSession, principal: Principal, tenant_id: str, job_id: str, executor: Executor
) -> dict[str, Any]:
    """Per-task resource use and progress of the latest attempts, plus job totals."""
    job = await _job(session, principal, tenant_id, job_id, "jobs:read")
    tasks = []
    cpu_total = 0.0
    for task in await tasks_of(session, job.id):
        m = await executor.metrics(TaskKey(task.id, task.attempt))
        cpu_total += m.cpu_seconds or 0.0
        tasks.append(
            {
                "task": task.name,
                "attempt": task.attempt,
                "state": task.state,
                "node": task.node,
                "cpu_seconds": m.cpu_seconds,
                "rss_mib": m.rss_mib,
                "runtime_s": m.runtime_s,
                "progress": task.progress,
                "heartbeat_at": task.heartbeat_at,
            }
        )
    return {
        "job_id": job.id,
        "state": job.state,
        "retries": job.retries,
        "cpu_seconds": cpu_total,
        "tasks": tasks,
    }
