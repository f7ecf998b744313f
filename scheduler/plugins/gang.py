"""Gang: a job starts only when ``min_available`` tasks can be placed together."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import JobInfo, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unresolvable, unschedulable
from scheduler.plugins._args import check_keys


class GangPlugin:
    """Job validity (enough tasks), readiness (minimum placed), unready-first order, gang-safe victims."""

    name = "gang"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())

    def on_session_open(self, session: Session) -> None:
        """Register valid/ready checks, job order and victim filters."""
        session.add_job_valid(self.name, self.valid)
        session.add_job_ready(self.name, self.ready)
        session.add_job_order(self.name, lambda job: 1.0 if job.ready else 0.0)
        session.add_preemptable(self.name, self.victims)
        session.add_reclaimable(self.name, self.victims)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    def valid(self, job: JobInfo) -> Status:
        """The job has at least ``min_available`` tasks."""
        if len(job.tasks) < job.min_available:
            return unresolvable(
                self.name, f"job has {len(job.tasks)} tasks but min_available {job.min_available}"
            )
        return SUCCESS

    def ready(self, job: JobInfo) -> Status:
        """At least ``min_available`` tasks are placed."""
        if job.placed >= job.min_available:
            return SUCCESS
        return unschedulable(
            self.name, f"{job.placed}/{job.min_available} tasks placed; gang needs all at once"
        )

    def victims(self, preemptor: TaskInfo, pool: list[TaskInfo]) -> list[TaskInfo]:
        """Only tasks whose job keeps its minimum, or single-task-minimum jobs (Volcano gang)."""
        return [v for v in pool if v.job.min_available <= 1 or v.job.placed - 1 >= v.job.min_available]
