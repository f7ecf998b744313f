"""Shared victim search for preempt (within a queue) and reclaim (across queues)."""

from __future__ import annotations

from collections.abc import Callable

from scheduler.actions.allocate import mark_failure
from scheduler.framework.session import Session
from scheduler.framework.snapshot import JobInfo, NodeState, TaskInfo
from scheduler.framework.statement import Statement
from scheduler.framework.status import Status, unschedulable
from scheduler.model.state import JobEvent, JobState
from scheduler.plugins.predicates import could_ever_fit

VictimFilter = Callable[[TaskInfo, list[TaskInfo]], list[TaskInfo]]


def _victim_order(v: TaskInfo) -> tuple[int, bool, float]:
    # lowest priority first, elastic extras before gang members, youngest first
    return (v.job.priority, v.essential, -v.job.created_at)


def evict_for_task(
    session: Session,
    stmt: Statement,
    task: TaskInfo,
    pool: list[TaskInfo],
    allowed: VictimFilter,
    *,
    action: str,
    max_nodes: int,
) -> bool:
    """Place ``task``, evicting allowed victims from ``pool`` on one node if needed. True on success."""
    if session.allocatable(task).ok:
        chosen = session.select_node(task)
        if not isinstance(chosen, Status):
            stmt.allocate(task, chosen.node, chosen.devices)
            return True
    victims = allowed(task, [v for v in pool if v.node is not None and v.job is not task.job])
    if not victims:
        return False
    by_node: dict[NodeState, list[TaskInfo]] = {}
    for v in victims:
        assert v.node is not None
        by_node.setdefault(v.node, []).append(v)
    nodes = [n for n in by_node if n.healthy and could_ever_fit(task, n)]
    nodes.sort(key=lambda n: (-sum(v.accel_demand for v in by_node[n]), n.pos))
    reason = f"{action} for {task.job.id}/{task.name} (priority {task.job.priority})"
    for node in nodes[:max_nodes]:
        mark = stmt.checkpoint()
        for victim in sorted(by_node[node], key=_victim_order):
            if victim.node is None:
                continue  # already evicted with its gang
            stmt.evict(victim, action=action, reason=reason)
            if not session.allocatable(task).ok:
                continue
            chosen = session.select_node(task, node.name)
            if not isinstance(chosen, Status):
                stmt.allocate(task, chosen.node, chosen.devices)
                return True
        stmt.rollback(mark)
    return False


def evict_for_job(
    session: Session,
    job: JobInfo,
    pool: list[TaskInfo],
    allowed: VictimFilter,
    *,
    action: str,
    max_nodes: int,
) -> bool:
    """Make ``job``'s gang ready by evicting victims; commit on success, discard otherwise."""
    stmt = Statement(session)
    for task in job.tasks:
        if job.placed >= job.min_available:
            break
        if task.node is not None:
            continue
        if not evict_for_task(session, stmt, task, pool, allowed, action=action, max_nodes=max_nodes):
            stmt.discard()
            return False
    if not session.job_ready(job).ok:
        stmt.discard()
        return False
    if job.state is JobState.QUEUED:
        stmt.move(job, JobEvent.SCHEDULE, f"placed by {action}")
    stmt.commit()
    session.clear_pending(job)
    return True


def starving_jobs(session: Session) -> list[JobInfo]:
    """Queued jobs whose gang is not placed, in job order."""
    jobs = [j for j in session.snapshot.waiting_jobs() if j.state is JobState.QUEUED and not j.ready]
    jobs.sort(key=session.job_key)
    return jobs


def note_failure(session: Session, job: JobInfo, action: str) -> None:
    """Keep the allocate reasons and add that eviction did not help either."""
    previous = session.result.pending.get(job.id)
    reasons = [unschedulable(action, "no victims whose eviction makes the job fit")]
    if previous is None:
        mark_failure(session, job, reasons)
    elif not previous.unschedulable:
        session.result.pending[job.id] = type(previous)((*previous.reasons, reasons[0].message()))
