"""Allocate: place the gang minimum of queued jobs, all or nothing (Volcano ``allocate``).

Queues are visited by queue order (re-evaluated after every job, so shares stay fair); within a
queue jobs go in job order. For each job the network-topology planner proposes domains; the gang
is placed through one statement per domain and committed only when the job is ready. A job that
failed is skipped until something is released in the snapshot (kube-scheduler's unschedulable
queue): nothing else can make it fit.
"""

from __future__ import annotations

import heapq
from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import JobInfo
from scheduler.framework.statement import Statement
from scheduler.framework.status import Code, Status
from scheduler.model.state import JobEvent, JobState
from scheduler.plugins._args import check_keys


def place_tasks(
    session: Session, job: JobInfo, stmt: Statement, domain: str | None, limit: int
) -> Status | None:
    """Place unplaced tasks in order until ``limit`` tasks of the job are placed; the failure or None."""
    for task in job.tasks:
        if job.placed >= limit:
            break
        if task.node is not None:
            continue
        status = session.allocatable(task)
        if not status.ok:
            return status
        chosen = session.select_node(task, domain)
        if isinstance(chosen, Status):
            return chosen
        stmt.allocate(task, chosen.node, chosen.devices)
    return None


def try_gang(session: Session, job: JobInfo) -> list[Status]:
    """Try to make ``job`` ready; on success commit and return []; else the reasons."""
    plan = session.placement_domains(job)
    if isinstance(plan, Status):
        return [plan]
    reasons: list[Status] = []
    for domain in plan:
        stmt = Statement(session)
        failure = place_tasks(session, job, stmt, domain, job.min_available)
        ready = session.job_ready(job)
        if ready.ok:
            if job.state is JobState.QUEUED:
                stmt.move(job, JobEvent.SCHEDULE, f"gang placed{f' in {domain}' if domain else ''}")
            stmt.commit()
            return []
        stmt.discard()
        reasons.append(failure or ready)
    return reasons


def mark_failure(session: Session, job: JobInfo, reasons: list[Status]) -> None:
    """Record pending reasons; move the job to UNSCHEDULABLE when it can never fit."""
    job.attempt_gen = session.snapshot.release_gen
    never = session.feasibility(job)
    if never.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
        stmt = Statement(session)
        stmt.move(job, JobEvent.MARK_UNSCHEDULABLE, never.message())
        stmt.commit()
        session.set_pending(job, [never, *reasons], unschedulable_=True)
    else:
        session.set_pending(job, reasons)


class AllocateAction:
    """Gang allocation over queued jobs."""

    name = "allocate"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())

    def execute(self, session: Session) -> None:
        """Allocate queued, not-ready jobs in queue order then job order."""
        snap = session.snapshot
        by_queue: dict[str, list[tuple[tuple[float | str, ...], int, JobInfo]]] = {}
        for i, job in enumerate(snap.waiting_jobs()):
            if job.state is not JobState.QUEUED or job.ready:
                continue
            if job.attempt_gen == snap.release_gen:
                session.set_pending(
                    job,
                    [Status(Code.UNSCHEDULABLE, ("no resources released since last attempt",), "allocate")],
                )
                continue
            by_queue.setdefault(job.queue, []).append((session.job_key(job), i, job))
        for heap in by_queue.values():
            heapq.heapify(heap)
        while by_queue:
            name = min(by_queue, key=lambda q: session.queue_key(snap.queues[q]))
            heap = by_queue[name]
            _, _, job = heapq.heappop(heap)
            if not heap:
                del by_queue[name]
            over = session.overused(snap.queues[name])
            if not over.ok:
                mark_failure(session, job, [over])
                continue
            valid = session.job_valid(job)
            if not valid.ok:
                mark_failure(session, job, [valid])
                continue
            reasons = try_gang(session, job)
            if reasons:
                mark_failure(session, job, reasons)
            else:
                session.clear_pending(job)
