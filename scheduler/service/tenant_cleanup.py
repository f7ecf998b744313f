"""Stop a tenant's work before the tenant is deleted (the scheduler's tenant-deletion hook).

Deleting a tenant cascades through its job and task rows; the processes those rows stand for
(batch jobs, training ranks, model-service replicas, batch-inference workers: all scheduler jobs)
would run on as orphans nobody can see or stop. :func:`stop_tenant_work` runs before the row goes:

1. every job of the tenant is deleted as ``DELETE /jobs/{id}`` would (cancelled, its tasks marked
   ``stopping``, hidden), in its own committed transaction, retried when it loses a race with the loop;
2. the scheduling loop stops the tasks, as for any deleted job: the loop alone launches and stops
   tasks, in that order within a tick, so a launch already under way is stopped right after it;
   without a running loop (``enabled=false``) the executor is told directly;
3. once none of the tenant's tasks runs or stops, each job's gang resources are released.

If the tasks are still stopping after ``timeout_s`` the deletion is refused with 409 naming the jobs
(they are cancelled by then; a retry deletes the tenant).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from scheduler.executors.base import TaskKey
from scheduler.service.jobs import delete_job
from scheduler.service.models import JobRow, TaskRow
from services.kernel.errors import Conflict

if TYPE_CHECKING:
    from scheduler.service.controller import Controller

log = logging.getLogger("stic.scheduler")
LIVE = ("running", "stopping")
POLL_S = 0.05


async def _cancel_jobs(controller: Controller, tenant_id: str) -> list[str]:
    """Delete every job of the tenant (committed); returns all the tenant's job ids."""
    for _ in range(20):
        async with controller.database.sessionmaker() as session:
            jobs = list(
                (await session.execute(select(JobRow).where(JobRow.tenant_id == tenant_id))).scalars()
            )
            try:
                for job in jobs:
                    if not job.deleted:
                        await delete_job(
                            session=session, principal=controller.system, tenant_id=tenant_id, job_id=job.id
                        )
                await session.commit()
                return [job.id for job in jobs]
            except Exception as exc:  # a lost race with the loop: read again
                await session.rollback()
                log.info("tenant job cancellation retried", extra={"reason": type(exc).__name__})
        await asyncio.sleep(POLL_S)
    raise Conflict(f"the jobs of tenant {tenant_id} kept changing while being cancelled; retry")


async def _live_tasks(controller: Controller, tenant_id: str) -> list[TaskRow]:
    async with controller.database.sessionmaker() as session:
        query = select(TaskRow).where(TaskRow.tenant_id == tenant_id, TaskRow.state.in_(LIVE))
        return list((await session.execute(query)).scalars())


async def stop_tenant_work(controller: Controller, tenant_id: str, *, timeout_s: float = 30.0) -> None:
    """Cancel the tenant's jobs and return once none of their tasks runs (see module docs).

    Raises :class:`Conflict` (409) naming the jobs whose tasks are still stopping after ``timeout_s``.
    """
    job_ids = await _cancel_jobs(controller, tenant_id)
    if not job_ids:
        return
    controller.wake()
    deadline = time.monotonic() + timeout_s
    while live := await _live_tasks(controller, tenant_id):
        if not controller.running:
            for task in live:
                await controller.executor.stop(TaskKey(task.id, task.attempt))
        if time.monotonic() > deadline:
            names = sorted({t.job_id for t in live})
            raise Conflict(
                f"tenant {tenant_id}: the tasks of jobs {names} are still stopping; "
                "the jobs are cancelled, retry the deletion"
            )
        await asyncio.sleep(POLL_S)
        if not controller.running:
            break  # stopped directly: the rows are deleted with the tenant
    for job_id in job_ids:
        try:
            await controller.executor.release(job_id)
        except Exception:  # released by the loop meanwhile, or already gone
            log.info("gang release after tenant stop failed", extra={"job_id": job_id})
