"""Preempt: a starving job evicts lower-priority preemptible tasks of its own queue."""

from __future__ import annotations

from typing import Any

from scheduler.actions._evict import evict_for_job, note_failure, starving_jobs
from scheduler.config import ConfigError
from scheduler.framework.session import Session
from scheduler.plugins._args import check_keys


class PreemptAction:
    """Within-queue preemption; victims must pass every ``preemptable`` filter (priority, gang, drf).

    ``max_jobs`` bounds preemption attempts per cycle; ``max_nodes`` bounds nodes tried per task.
    """

    name = "preempt"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"max_jobs", "max_nodes"})
        self.max_jobs = int(args.get("max_jobs", 32))
        self.max_nodes = int(args.get("max_nodes", 16))
        if self.max_jobs < 1 or self.max_nodes < 1:
            raise ConfigError("preempt.args: max_jobs and max_nodes must be >= 1")

    def execute(self, session: Session) -> None:
        """Try starving jobs that outrank some preemptible task in their queue."""
        snap = session.snapshot
        tried = 0
        for job in starving_jobs(session):
            if tried >= self.max_jobs:
                break
            pool = list(snap.queues[job.queue].preemptible_tasks)
            if not pool or min(v.job.priority for v in pool) >= job.priority:
                continue
            tried += 1
            if not evict_for_job(
                session, job, pool, session.preemptable, action=self.name, max_nodes=self.max_nodes
            ):
                note_failure(session, job, self.name)
