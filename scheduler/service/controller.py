"""The scheduling loop of the service: monitor → schedule → launch → stop → release, every tick.

One asyncio task runs :meth:`Controller.run`. A submission, a node change or a lifecycle call
wakes it at once (:meth:`Controller.wake`); otherwise it ticks every ``tick_s`` and runs a
scheduling cycle every ``cycle_s`` or when something changed. Every step is its own
transaction; a step that loses a race with the API (a job changed, or rows vanished because a job
or its whole tenant was deleted mid-cycle) is rolled back and redone on the next tick, without an
error log. Placements are committed before any launch, and a launch is keyed by (task, attempt),
so a restarted service never places or starts a task twice. The loop also stands in for this
machine's node agent: it stamps the local node's heartbeat and now and then measures its
(loopback) network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from scheduler import Scheduler
from scheduler.executors.base import Executor, Phase, TaskKey
from scheduler.model import JobEvent, JobState
from scheduler.model.state import TERMINAL
from scheduler.service.cycle import run_cycle, tasks_by_job, unfinished_jobs
from scheduler.service.jobs import add_event, apply_event
from scheduler.service.launching import build_launches
from scheduler.service.models import JobRow, NodeRow, TaskRow
from scheduler.service.monitor import Monitor, MonitorResult
from scheduler.service.netprobe import measure_loopback
from scheduler.service.node_health import apply_network, judge_network, thresholds
from scheduler.service.options import SchedulerOptions
from services.kernel.auth import Principal
from services.kernel.db import Database, utcnow
from services.kernel.deadlocks import is_deadlock
from services.kernel.errors import NotFound
from services.quotas import service as quotas

log = logging.getLogger("stic.scheduler")

# What a step sees when the API changed or deleted rows under it (deleting a job, or a tenant with
# all its jobs, cascades while a cycle holds them): stale versions, foreign keys to rows now gone,
# and on PostgreSQL being chosen as the victim of a deadlock with that cascade.
LOST_RACE = (StaleDataError, ObjectDeletedError, IntegrityError, OperationalError)


def lost_race(error: BaseException) -> bool:
    """Whether ``error`` means a concurrent change won (see ``LOST_RACE``): the next tick redoes it."""
    return isinstance(error, LOST_RACE) or is_deadlock(error)


class Controller:
    """Owns the executor and drives jobs from placement to completion (see module docs)."""

    def __init__(
        self,
        *,
        database: Database,
        executor: Executor,
        scheduler: Scheduler,
        options: SchedulerOptions,
        system: Principal,
        local_node: str,
    ) -> None:
        self.database = database
        self.executor = executor
        self.scheduler = scheduler
        self.options = options
        self.system = system
        self.local_node = local_node
        self.monitor = Monitor(executor, options, started_at=utcnow())
        self.cycles = 0
        self._wake = asyncio.Event()
        self._dirty = True
        self._last_cycle = 0.0
        self._last_beat = 0.0
        self._last_probe = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def work_dir(self) -> Path:
        """Root of job folders and checkpoints (resolved against the data dir at start-up)."""
        if self.options.work_dir is None:
            raise RuntimeError("SchedulerOptions.work_dir must be resolved before the controller runs")
        return self.options.work_dir

    def wake(self) -> None:
        """Run a full tick (with a scheduling cycle) as soon as possible."""
        self._dirty = True
        self._wake.set()

    @property
    def running(self) -> bool:
        """True while the loop task runs and has not been asked to stop."""
        return self._task is not None and not self._task.done() and not self._stopping

    def start(self) -> None:
        """Start the loop as a background task."""
        self._task = asyncio.create_task(self.run(), name="stic-scheduler")

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Stop the loop after its current tick (cancelled after ``grace_s``); tasks keep running."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.executor.close()

    async def run(self) -> None:
        """Tick until stopped; errors are logged and the loop goes on."""
        while not self._stopping:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler tick failed")
                self._dirty = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.tick_s)
            self._wake.clear()

    async def tick(self) -> None:
        """One pass of every step."""
        await self._step(self._heartbeat)
        await self._measure_network()
        result = MonitorResult()

        async def monitor(session: AsyncSession) -> None:
            nonlocal result
            result = await self.monitor.run(session, utcnow())

        if await self._step(monitor):
            await self._stop_keys(result.to_stop)
            if result.changed:
                self._dirty = True
        if self._dirty or time.monotonic() - self._last_cycle >= self.options.cycle_s:
            self._dirty = False
            self._last_cycle = time.monotonic()
            if not await self._step(self._cycle):
                self._dirty = True
        await self._launch()
        await self._stop_released()
        await self._release_quotas()

    async def _step(self, work: object) -> bool:
        """Run ``work(session)`` in one transaction; False when it lost a race (rolled back)."""
        async with self.database.sessionmaker() as session:
            try:
                await work(session)  # type: ignore[operator]
                await session.commit()
                return True
            except Exception as exc:
                if not lost_race(exc):
                    raise
                await session.rollback()
                log.info("scheduler step retried", extra={"reason": type(exc).__name__})
                return False

    async def _heartbeat(self, session: AsyncSession) -> None:
        if time.monotonic() - self._last_beat < self.options.node_heartbeat_s:
            return
        self._last_beat = time.monotonic()
        row = (
            await session.execute(select(NodeRow).where(NodeRow.name == self.local_node))
        ).scalar_one_or_none()
        if row is not None:
            row.heartbeat_at = utcnow()

    async def _measure_network(self) -> None:
        """Every ``local_network_probe_s``: measure this machine's loopback network and report it
        like a node agent would (see :mod:`scheduler.service.netprobe`)."""
        if self._last_probe and time.monotonic() - self._last_probe < self.options.local_network_probe_s:
            return
        self._last_probe = time.monotonic()
        await self._step(self._rejudge_slow_domains)
        try:
            figures = await measure_loopback()
        except OSError:
            log.exception("local network measurement failed")
            return

        async def report(session: AsyncSession) -> None:
            row = (
                await session.execute(select(NodeRow).where(NodeRow.name == self.local_node))
            ).scalar_one_or_none()
            if row is not None:
                await apply_network(session, row, figures, now=utcnow(), limits=thresholds(self.options))

        await self._step(report)

    async def _rejudge_slow_domains(self, session: AsyncSession) -> None:
        """Judge again every leaf holding a network-slow node: a verdict must not outlive its figures
        when nobody in the domain reports any more (stale figures are "not judged", so not slow)."""
        leaves = (
            await session.execute(select(NodeRow.leaf).where(NodeRow.network_slow.is_(True)).distinct())
        ).scalars()
        for leaf in list(leaves):
            await judge_network(session, leaf, now=utcnow(), limits=thresholds(self.options))

    async def _cycle(self, session: AsyncSession) -> None:
        stats = await run_cycle(session, self.scheduler, now=utcnow())
        self.cycles += 1
        if stats.placed or stats.evicted:
            log.info("scheduling cycle", extra={"placed": stats.placed, "evicted": stats.evicted})

    async def _launch(self) -> None:
        """Mark placed tasks as launched (committed first), then hand them to the executor."""
        now = utcnow()
        batches: list[tuple[JobRow, list[TaskRow], list[TaskRow], dict[str, NodeRow]]] = []

        async def mark(session: AsyncSession) -> None:
            nodes = {n.name: n for n in (await session.execute(select(NodeRow))).scalars()}
            active = (JobState.SCHEDULED.value, JobState.RUNNING.value)
            jobs = [j for j in await unfinished_jobs(session) if j.state in active]
            tasks = await tasks_by_job(session, [j.id for j in jobs])
            for job in jobs:
                ready = [
                    t
                    for t in tasks[job.id]
                    if t.state in ("placed", "backoff") and (t.not_before is None or t.not_before <= now)
                ]
                if not ready:
                    continue
                for task in ready:
                    task.state, task.started_at, task.not_before = "running", now, None
                    add_event(
                        session, job, "started", f"attempt {task.attempt} on {task.node}", task=task.name
                    )
                if job.state == JobState.SCHEDULED.value:
                    apply_event(session, job, JobEvent.START, f"{len(ready)} task(s) launched")
                    job.started_once = True
                job.updated_at = now  # bumps the version: a concurrent suspend/delete wins
                placed = [t for t in tasks[job.id] if t.node is not None]
                batches.append((job, placed, ready, nodes))

        if not await self._step(mark):
            self._dirty = True
            return
        for job, placed, ready, nodes in batches:
            launches = build_launches(job, placed, ready, nodes, self.work_dir)
            try:
                await self.executor.launch(launches)
            except Exception:
                log.exception("launch failed", extra={"job_id": job.id})

    async def relaunch_unknown(self) -> None:
        """After a restart: launch tasks marked running that the executor has no trace of."""
        async with self.database.sessionmaker() as session:
            nodes = {n.name: n for n in (await session.execute(select(NodeRow))).scalars()}
            jobs = [j for j in await unfinished_jobs(session) if j.state == JobState.RUNNING.value]
            tasks = await tasks_by_job(session, [j.id for j in jobs])
            for job in jobs:
                unknown = []
                for task in tasks[job.id]:
                    if task.state != "running":
                        continue
                    status = await self.executor.status(TaskKey(task.id, task.attempt))
                    if status.phase is Phase.UNKNOWN:
                        unknown.append(task)
                if unknown:
                    placed = [t for t in tasks[job.id] if t.node is not None]
                    await self.executor.launch(build_launches(job, placed, unknown, nodes, self.work_dir))

    async def _stop_keys(self, keys: list[TaskKey]) -> None:
        for key in keys:
            try:
                await self.executor.stop(key)
            except Exception:
                log.exception("stop failed", extra={"task_id": key.task_id})

    async def _stop_released(self) -> None:
        """Stop tasks marked ``stopping`` (suspend, delete, eviction) and free their placement."""
        async with self.database.sessionmaker() as session:
            rows = list((await session.execute(select(TaskRow).where(TaskRow.state == "stopping"))).scalars())
            keys = [(t.id, TaskKey(t.id, t.attempt)) for t in rows]
        if not keys:
            return
        await self._stop_keys([k for _, k in keys])

        async def done(session: AsyncSession) -> None:
            for task_id, key in keys:
                task = await session.get(TaskRow, task_id)
                if task is None or task.state != "stopping" or task.attempt != key.attempt:
                    continue
                job = await session.get(JobRow, task.job_id)
                task.node, task.devices, task.finished_at = None, [], utcnow()
                task.state = "stopped" if job is None or JobState(job.state) in TERMINAL else "pending"
                if task.state == "pending":
                    task.attempt += 1
                    task.started_at = None
                if job is not None:
                    add_event(session, job, "stopped", f"attempt {key.attempt} stopped", task=task.name)

        await self._step(done)
        self._dirty = True

    async def _release_quotas(self) -> None:
        """Give back the quota (and gang resources) of finished jobs once none of their tasks runs.

        A job (or tenant) deleted meanwhile ends the pass quietly; the next tick sees the new state.
        """
        async with self.database.sessionmaker() as session:
            states = [s.value for s in TERMINAL]
            query = select(JobRow).where(JobRow.state.in_(states), JobRow.quota_released.is_(False))
            jobs = list((await session.execute(query)).scalars())
            for job in jobs:
                try:
                    await self._release_one(session, job)
                    await session.commit()
                except Exception as exc:
                    if not (lost_race(exc) or isinstance(exc, NotFound)):
                        raise
                    await session.rollback()  # the release is idempotent: next tick
                    log.info("quota release retried", extra={"reason": type(exc).__name__})
                    return

    async def _release_one(self, session: AsyncSession, job: JobRow) -> None:
        busy = (
            await session.execute(
                select(TaskRow.id).where(TaskRow.job_id == job.id, TaskRow.state.in_(("running", "stopping")))
            )
        ).first()
        if busy is not None:
            return
        await self.executor.release(job.id)
        if job.reservation_id is not None:
            await quotas.release(
                session=session,
                principal=self.system,
                tenant_id=job.tenant_id,
                reservation_id=job.reservation_id,
            )
        job.quota_released = True
        add_event(session, job, "quota", "reservation released")
