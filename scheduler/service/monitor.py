"""The monitor: observe running tasks and nodes, detect faults, apply recovery (no one has to act).

Each pass reads the executor's view of every running task (exit code, heartbeat, progress),
runs the pure detectors of :mod:`scheduler.recovery.detectors`, and for every job with a fault
applies the decision of :func:`scheduler.recovery.policy.decide`: restart in place after a
backoff, give the placement back for rescheduling (the job then avoids the faulty node), or fail
the job. Lost nodes are cordoned automatically, as are nodes where tasks of several jobs keep
failing within a time window (older failures age out); slow nodes are marked degraded with their
measured slowdown so the health plugin steers work away from them. Tasks holding a device that its
node reported lost are recovered by their job's policy (a restart in place becomes a reschedule;
the job does not avoid the node, whose other devices stay usable).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.executors.base import Executor, Phase, TaskKey
from scheduler.model import JobEvent, JobState
from scheduler.recovery.detectors import (
    Fault,
    FaultKind,
    TaskObservation,
    abnormal_exit,
    accelerator_lost,
    hang,
    node_lost,
    stragglers,
)
from scheduler.recovery.node_failures import cordon_reason, record_failure
from scheduler.recovery.policy import Action, Decision, Scope, decide
from scheduler.service.cycle import tasks_by_job, unfinished_jobs
from scheduler.service.inventory import cordon, record_node_event
from scheduler.service.jobs import add_event, apply_event
from scheduler.service.jobspec import recovery_policy
from scheduler.service.models import JobRow, NodeRow, TaskRow
from scheduler.service.node_view import lost_devices
from scheduler.service.options import SchedulerOptions

SEVERITY = {
    FaultKind.NODE_LOST: 0,
    FaultKind.ACCELERATOR_LOST: 1,
    FaultKind.ABNORMAL_EXIT: 2,
    FaultKind.HANG: 3,
    FaultKind.STRAGGLER: 4,
}
HELD = ("placed", "running", "backoff")  # task states that hold their node and devices
LAUNCHED = ("running", "stopping")
MAX_AVOIDED = 64  # nodes a job remembers to avoid (oldest forgotten first)


@dataclass
class MonitorResult:
    """What a pass changed: jobs to (re)consider and task attempts the caller must stop."""

    changed: bool = False
    to_stop: list[TaskKey] = field(default_factory=list)
    finished_jobs: list[str] = field(default_factory=list)


def reset_task(task: TaskRow, *, keep_placement: bool, not_before: datetime | None) -> None:
    """Prepare a task for its next attempt (a new executor key if this one was launched)."""
    if task.started_at is not None:
        task.attempt += 1
    task.started_at = task.finished_at = task.heartbeat_at = None
    task.exit_code, task.progress, task.not_before = None, None, not_before
    if keep_placement and task.node is not None:
        task.state = "backoff"
    else:
        task.state, task.node, task.devices = "pending", None, []


def _observation(task: TaskRow) -> TaskObservation:
    assert task.started_at is not None
    return TaskObservation(
        task.name, task.node, task.started_at, task.exit_code, task.heartbeat_at, task.progress
    )


def _node_usable(node: NodeRow | None) -> bool:
    return node is not None and not node.cordoned and node.health != "unhealthy"


class Monitor:
    """Observation, detection and recovery over the store (one pass per controller tick)."""

    def __init__(self, executor: Executor, options: SchedulerOptions, *, started_at: datetime) -> None:
        self.executor = executor
        self.options = options
        self.started_at = started_at

    async def observe(self, session: AsyncSession, tasks: Iterable[TaskRow], now: datetime) -> list[TaskRow]:
        """Refresh running tasks from the executor; returns the tasks whose attempt just ended."""
        ended = []
        for task in tasks:
            if task.state != "running":
                continue
            status = await self.executor.status(TaskKey(task.id, task.attempt))
            if status.heartbeat_at is not None and status.heartbeat_at != task.heartbeat_at:
                task.heartbeat_at = status.heartbeat_at
            if status.progress is not None and status.progress != task.progress:
                task.progress = status.progress
            if status.phase is Phase.EXITED:
                task.exit_code, task.finished_at = status.exit_code, now
                task.state = "succeeded" if status.exit_code == 0 else "failed"
                ended.append(task)
            elif status.phase is Phase.LOST:
                task.exit_code, task.finished_at, task.state = None, now, "failed"
                task.failure = "the task's process vanished without an exit code"
                ended.append(task)
        return ended

    async def run(self, session: AsyncSession, now: datetime) -> MonitorResult:
        """One pass: observe, detect, recover. Stages changes in ``session``; caller commits."""
        result = MonitorResult()
        nodes = {n.name: n for n in (await session.execute(select(NodeRow))).scalars()}
        jobs = [j for j in await unfinished_jobs(session) if j.state != JobState.PENDING.value]
        tasks = await tasks_by_job(session, [j.id for j in jobs])
        lost = self._lost_nodes(nodes, now)
        for name, fault in lost.items():
            await cordon(session=session, principal=None, name=name, reason=fault.message)
            await record_node_event(session, name, "lost", fault.message)
            result.changed = True
        for job in jobs:
            job_tasks = tasks[job.id]
            ended = await self.observe(session, job_tasks, now)
            for task in ended:
                how = "succeeded" if task.exit_code == 0 else (task.failure or f"exit code {task.exit_code}")
                add_event(session, job, "task_exited", f"attempt {task.attempt}: {how}", task=task.name)
                result.changed = True
            faults = self._faults(job, job_tasks, ended, nodes, lost, now)
            if faults:
                await self._recover(session, job, job_tasks, faults, nodes, now, result)
            elif self._done(job, job_tasks):
                apply_event(session, job, JobEvent.COMPLETE, "every task exited with code 0")
                job.reasons = []
                result.finished_jobs.append(job.id)
                result.changed = True
            elif self._drained(job, job_tasks, nodes):
                decision = Decision(
                    Action.RESCHEDULE, 0.0, False, "its node is being drained", counts_as_retry=False
                )
                self._apply(session, job, job_tasks, decision, None, now, result)
        return result

    def _lost_nodes(self, nodes: dict[str, NodeRow], now: datetime) -> dict[str, Fault]:
        if (now - self.started_at).total_seconds() < self.options.node_heartbeat_timeout_s:
            return {}  # after a control-plane restart, give agents one timeout to report again
        out = {}
        for node in nodes.values():
            if node.cordoned:
                continue
            fault = node_lost(
                node.name,
                heartbeat_at=node.heartbeat_at,
                now=now,
                timeout_s=self.options.node_heartbeat_timeout_s,
            )
            if fault is not None:
                out[node.name] = fault
        return out

    def _faults(
        self,
        job: JobRow,
        tasks: list[TaskRow],
        ended: list[TaskRow],
        nodes: dict[str, NodeRow],
        lost: dict[str, Fault],
        now: datetime,
    ) -> list[Fault]:
        if job.state not in (JobState.RUNNING.value, JobState.SCHEDULED.value):
            return []
        policy = recovery_policy(job.spec)
        faults: list[Fault] = []
        for task in tasks:
            if task.node in lost and task.state in HELD:
                faults.append(Fault(FaultKind.NODE_LOST, task.name, task.node, lost[task.node].message))
            elif task.node in nodes and task.state in HELD and task.devices:
                gone = accelerator_lost(task.name, task.node, task.devices, lost_devices(nodes[task.node]))
                if gone is not None:
                    faults.append(gone)
        for task in ended:
            if task.state == "failed":
                fault = abnormal_exit(_observation(task))
                faults.append(
                    fault
                    or Fault(
                        FaultKind.ABNORMAL_EXIT, task.name, task.node, f"task {task.name}: {task.failure}"
                    )
                )
        running = [t for t in tasks if t.state == "running" and t.started_at is not None]
        for task in running:
            fault = hang(_observation(task), now=now, timeout_s=policy.heartbeat_timeout_s)
            if fault is not None:
                faults.append(fault)
        faults.extend(
            stragglers(
                [_observation(t) for t in running],
                now=now,
                ratio=policy.straggler_ratio,
                min_elapsed_s=self.options.straggler_min_elapsed_s,
            )
        )
        for fault in faults:
            if fault.kind is FaultKind.STRAGGLER and fault.node in nodes:
                self._mark_slow(nodes[fault.node], fault)
        return sorted(faults, key=lambda f: SEVERITY[f.kind])

    @staticmethod
    def _mark_slow(node: NodeRow, fault: Fault) -> None:
        if fault.slowdown > node.slowdown * 1.2 or node.health == "healthy":
            node.slowdown = max(node.slowdown, round(fault.slowdown, 2))
            node.health = "degraded" if node.health == "healthy" else node.health
            node.health_reasons = [f"straggler: {fault.message}"]

    @staticmethod
    def _done(job: JobRow, tasks: list[TaskRow]) -> bool:
        if job.state != JobState.RUNNING.value:
            return False
        placed = [t for t in tasks if t.state != "pending"]
        return bool(placed) and all(t.state == "succeeded" for t in placed)

    @staticmethod
    def _drained(job: JobRow, tasks: list[TaskRow], nodes: dict[str, NodeRow]) -> bool:
        if job.state not in (JobState.RUNNING.value, JobState.SCHEDULED.value):
            return False
        return any(
            t.node in nodes and nodes[t.node].draining and t.state in ("placed", "running", "backoff")
            for t in tasks
        )

    async def _recover(
        self,
        session: AsyncSession,
        job: JobRow,
        tasks: list[TaskRow],
        faults: list[Fault],
        nodes: dict[str, NodeRow],
        now: datetime,
        result: MonitorResult,
    ) -> None:
        fault = faults[0]
        for f in faults:
            add_event(session, job, "fault", f"{f.kind.value}: {f.message}", task=f.task)
        node = nodes.get(fault.node or "")
        if fault.kind in (FaultKind.ABNORMAL_EXIT, FaultKind.HANG) and node is not None:
            await self._count_node_failure(session, node, job, now)
        decision = decide(
            recovery_policy(job.spec), fault, retries=job.retries, node_usable=_node_usable(node)
        )
        self._apply(session, job, tasks, decision, fault, now, result)

    async def _count_node_failure(
        self, session: AsyncSession, node: NodeRow, job: JobRow, now: datetime
    ) -> None:
        """Record a task failure; cordon the node when recent failures span several jobs."""
        window = self.options.failure_window_s
        node.failures += 1
        records = record_failure(node.failed_jobs, job=job.id, now=now, window_s=window)
        node.failed_jobs = [r.to_json() for r in records]
        if node.cordoned:
            return
        reason = cordon_reason(records, threshold=self.options.cordon_after_failures, window_s=window)
        if reason is not None:
            await cordon(session=session, principal=None, name=node.name, reason=reason)

    def _apply(
        self,
        session: AsyncSession,
        job: JobRow,
        tasks: list[TaskRow],
        decision: Decision,
        fault: Fault | None,
        now: datetime,
        result: MonitorResult,
    ) -> None:
        result.changed = True
        add_event(
            session,
            job,
            "recovery",
            f"{decision.action.value}: {decision.reason}",
            task=fault.task if fault else None,
        )
        if decision.action is Action.NONE:
            return
        if decision.counts_as_retry and decision.action is not Action.FAIL:
            job.retries += 1
        not_before = now + timedelta(seconds=decision.delay_s)
        if decision.action is Action.FAIL:
            apply_event(session, job, JobEvent.FAIL, decision.reason)
            job.reasons = [decision.reason]
            for task in tasks:
                if task.state in LAUNCHED:
                    result.to_stop.append(TaskKey(task.id, task.attempt))
                    task.state = "stopped"
                elif task.state in ("placed", "backoff", "pending"):
                    task.state, task.node, task.devices = "stopped", None, []
            result.finished_jobs.append(job.id)
            return
        if decision.action is Action.RESCHEDULE:
            apply_event(session, job, JobEvent.EVICT, decision.reason)
            job.not_before = not_before
            affected = tasks
            # a lost device is out of service already: the node's other devices stay usable to the job
            if (
                fault is not None
                and fault.node is not None
                and fault.kind is not FaultKind.ACCELERATOR_LOST
                and fault.node not in job.avoid_nodes
            ):
                job.avoid_nodes = [*list(job.avoid_nodes)[-(MAX_AVOIDED - 1) :], fault.node]
                add_event(session, job, "avoid", f"{fault.node}: its tasks will not be placed there again")
        else:
            scope = recovery_policy(job.spec).scope
            failed = {fault.task} if fault is not None else set()
            affected = [
                t for t in tasks if t.name in failed or (scope is Scope.GANG and t.state != "pending")
            ]
        for task in affected:
            if task.state in LAUNCHED:
                result.to_stop.append(TaskKey(task.id, task.attempt))
            reset_task(task, keep_placement=decision.action is Action.RESTART, not_before=not_before)
