"""The batch controller: a loop that moves every unfinished batch forward, one transaction each.

* ``validating`` → mint the runner's credential and submit the job (:mod:`.runner`) →
  ``in_progress``; a submission refused for good (quota, bad project) → ``failed``.
* ``in_progress``: the job completed → finalise ``completed``; the job failed for good →
  finalise ``failed`` with what was done; the completion window passed → cancel the job, then
  finalise ``expired``.
* ``cancelling``: cancel the job, wait until none of its tasks runs, finalise ``cancelled``.

Every decision is read from the database (batch row, job row, task rows), so a restarted
control plane simply carries on; results already recorded are never redone, and finalisation
commits files and status together (exactly once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from inference.batches import runner
from inference.batches.batches import TERMINAL
from inference.batches.finalize import finalize
from inference.batches.models import BatchRow
from inference.batches.options import BatchOptions
from inference.batches.storage import FileStore
from scheduler.model import JobState
from scheduler.model.state import TERMINAL as JOB_TERMINAL
from scheduler.service.jobs import ACTIVE_TASK_STATES, delete_job
from scheduler.service.models import JobRow, TaskRow
from services.kernel.auth import Principal
from services.kernel.db import Database, utcnow
from services.kernel.errors import STICError

log = logging.getLogger("stic.batches")
JOB_FAILED = (JobState.FAILED.value, JobState.CANCELLED.value, JobState.UNSCHEDULABLE.value)


class BatchController:
    """Drives batches (see module docs); :meth:`tick` is one pass, :meth:`start` runs it in a loop."""

    def __init__(
        self,
        *,
        database: Database,
        store: FileStore,
        options: BatchOptions,
        system: Principal,
        secret: str,
        wake_scheduler: Callable[[], None] = lambda: None,
    ) -> None:
        self.database = database
        self.store = store
        self.options = options
        self.system = system
        self.secret = secret
        self.wake_scheduler = wake_scheduler
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Run a pass as soon as possible."""
        self._wake.set()

    def start(self) -> None:
        """Run the loop as a background task."""
        self._task = asyncio.create_task(self._run(), name="stic-batches")

    async def stop(self) -> None:
        """Stop the loop after its current pass."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch controller pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.tick_s)
            self._wake.clear()

    async def tick(self) -> None:
        """Advance every unfinished batch once."""
        async with self.database.sessionmaker() as session:
            query = select(BatchRow.id).where(BatchRow.status.not_in(TERMINAL)).order_by(BatchRow.created_at)
            ids = list((await session.execute(query)).scalars())
        for batch_id in ids:
            async with self.database.sessionmaker() as session:
                try:
                    await self._advance(session, batch_id)
                    await session.commit()
                except (StaleDataError, OperationalError) as exc:
                    await session.rollback()
                    log.info("batch step retried", extra={"batch_id": batch_id, "reason": type(exc).__name__})

    async def _advance(self, session: AsyncSession, batch_id: str) -> None:
        batch = await session.get(BatchRow, batch_id)
        if batch is None or batch.status in TERMINAL:
            return
        if batch.status == "validating":
            await self._submit(session, batch)
            return
        job = await session.get(JobRow, batch.job_id) if batch.job_id else None
        target, errors = self._target(batch, job)
        if target is None:
            return
        if target in ("cancelled", "expired") and job is not None and job.state not in _terminal_states():
            await delete_job(session=session, principal=self.system, tenant_id=job.tenant_id, job_id=job.id)
            self.wake_scheduler()
            return
        if job is not None and await self._tasks_busy(session, job.id):
            return
        await finalize(
            session,
            batch=batch,
            status=target,
            store=self.store,
            system=self.system,
            options=self.options,
            errors=errors,
        )
        log.info("batch finalised", extra={"batch_id": batch.id, "status": target})

    def _target(self, batch: BatchRow, job: JobRow | None) -> tuple[str | None, list[dict[str, Any]] | None]:
        """The final status the batch should reach now (None: keep going) and errors to add."""
        if batch.status == "cancelling":
            return "cancelled", None
        if job is not None and job.state == JobState.COMPLETED.value:
            return "completed", None
        if utcnow() >= batch.expires_at:
            return "expired", None
        if job is None:
            return "failed", [
                {"code": "job_missing", "message": "the batch's scheduler job no longer exists"}
            ]
        if job.state in JOB_FAILED:
            reasons = "; ".join(str(r) for r in (job.reasons or [])[:3]) or job.state
            return "failed", [
                {"code": "worker_failed", "message": f"the batch job {job.state}: {reasons}"[:500]}
            ]
        return None, None

    @staticmethod
    async def _tasks_busy(session: AsyncSession, job_id: str) -> bool:
        query = select(TaskRow.id).where(TaskRow.job_id == job_id, TaskRow.state.in_(ACTIVE_TASK_STATES))
        return (await session.execute(query)).first() is not None

    async def _submit(self, session: AsyncSession, batch: BatchRow) -> None:
        try:
            await runner.launch(
                session, batch=batch, system=self.system, options=self.options, secret=self.secret
            )
        except STICError as exc:
            log.warning("batch submission refused", extra={"batch_id": batch.id, "error": exc.message})
            if self.options.work_dir is not None:
                shutil.rmtree(self.options.work_dir / batch.id, ignore_errors=True)
            batch.status = "failed"
            batch.failed_at = utcnow()
            batch.errors = [{"code": exc.code, "message": exc.message[:500]}]
            return
        self.wake_scheduler()


def _terminal_states() -> set[str]:
    return {s.value for s in JOB_TERMINAL}
