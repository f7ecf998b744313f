"""One scheduling cycle against the database: load a snapshot, run the core, persist the result.

The cycle's placements, evictions, transitions and pending reasons are written in the caller's
transaction; nothing is launched here. Launch happens only after that transaction commits, so
a crash in between leaves placed-but-not-launched tasks that the next start launches once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler import Binding, JobRecord, Scheduler, Snapshot
from scheduler.model import JobEvent, JobState, ModelError
from scheduler.model.state import TERMINAL
from scheduler.service.inventory import load_inventory
from scheduler.service.jobs import ACTIVE_TASK_STATES, add_event, apply_event
from scheduler.service.jobspec import core_spec
from scheduler.service.models import JobRow, TaskRow
from scheduler.service.queues import load_queue_tree

log = logging.getLogger("stic.scheduler")


@dataclass(frozen=True)
class CycleStats:
    """What one cycle did."""

    jobs: int
    placed: int
    evicted: int
    transitions: int


async def unfinished_jobs(session: AsyncSession) -> list[JobRow]:
    """Every job that is not terminal, oldest first."""
    states = [s.value for s in TERMINAL]
    query = select(JobRow).where(JobRow.state.not_in(states)).order_by(JobRow.created_at, JobRow.id)
    return list((await session.execute(query)).scalars())


async def tasks_by_job(session: AsyncSession, job_ids: list[str]) -> dict[str, list[TaskRow]]:
    """Tasks of the given jobs, grouped, by rank."""
    out: dict[str, list[TaskRow]] = {j: [] for j in job_ids}
    if not job_ids:
        return out
    query = select(TaskRow).where(TaskRow.job_id.in_(job_ids)).order_by(TaskRow.rank)
    for task in (await session.execute(query)).scalars():
        out[task.job_id].append(task)
    return out


async def run_cycle(session: AsyncSession, scheduler: Scheduler, *, now: datetime) -> CycleStats:
    """Run one cycle and stage its decisions in ``session`` (the caller commits)."""
    view = await load_inventory(session)
    tree = await load_queue_tree(session)
    jobs = await unfinished_jobs(session)
    tasks = await tasks_by_job(session, [j.id for j in jobs])
    for job in jobs:
        if job.state == JobState.UNSCHEDULABLE.value and job.unschedulable_generation != view.fingerprint:
            apply_event(session, job, JobEvent.RETRY, "the cluster changed")
    snapshot = Snapshot(view.inventory, tree)
    considered: dict[str, JobRow] = {}
    for job in jobs:
        if job.not_before is not None and job.not_before > now and job.state == JobState.QUEUED.value:
            job.reasons = [f"recovery backoff until {job.not_before.isoformat()}"]
            continue
        bindings = {
            t.name: Binding(t.node, tuple(t.devices))
            for t in tasks[job.id]
            if t.node is not None and t.state in ACTIVE_TASK_STATES
        }
        spec = core_spec(job.spec, job_id=job.id, queue=job.queue_id, created_at=job.created_at.timestamp())
        try:
            avoid = frozenset(job.avoid_nodes or ())
            snapshot.add_job(JobRecord(spec, JobState(job.state), bindings, avoid))
        except ModelError as exc:
            log.warning("job left out of the cycle", extra={"job_id": job.id, "error": str(exc)})
            if job.id in snapshot.jobs:
                snapshot.finish_job(job.id)
            continue
        considered[job.id] = job
    result = scheduler.run_cycle(snapshot)
    for change in result.transitions:
        job = considered[change.job_id]
        if job.state != change.source.value:
            raise RuntimeError(f"job {job.id} is {job.state}, the cycle assumed {change.source.value}")
        apply_event(session, job, change.event, change.reason)
        if change.event is JobEvent.MARK_UNSCHEDULABLE:
            job.unschedulable_generation = view.fingerprint
            job.reasons = [change.reason]
    by_name = {(job_id, t.name): t for job_id, ts in tasks.items() for t in ts}
    for placement in result.placements:
        task = by_name[(placement.job_id, placement.task)]
        node = view.nodes[placement.node]
        task.node, task.devices = placement.node, list(placement.devices)
        task.accel_milli, task.accel_memory_mib = placement.accel_milli, placement.accel_memory_mib
        task.simulated, task.state, task.not_before = node.simulated, "placed", None
        devices = f" devices {list(placement.devices)}" if placement.devices else ""
        label = " (simulated node)" if node.simulated else ""
        add_event(
            session,
            considered[placement.job_id],
            "placed",
            f"on {placement.node}{devices}{label}",
            task=task.name,
        )
    for eviction in result.evictions:
        task = by_name[(eviction.job_id, eviction.task)]
        if task.state == "running":
            task.state = "stopping"
        else:
            task.state, task.node, task.devices = "pending", None, []
        add_event(
            session,
            considered[eviction.job_id],
            "evicted",
            f"{eviction.action}: {eviction.reason}",
            task=task.name,
        )
    for job_id, job in considered.items():
        info = result.pending.get(job_id)
        if info is not None:
            job.reasons = list(info.reasons)
        elif job.state not in (JobState.SUSPENDED.value, JobState.UNSCHEDULABLE.value):
            job.reasons = []
    return CycleStats(len(considered), len(result.placements), len(result.evictions), len(result.transitions))
