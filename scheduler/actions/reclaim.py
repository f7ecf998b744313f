"""Reclaim: a queue below its deserved share takes back resources lent to queues above theirs."""

from __future__ import annotations

from typing import Any

from scheduler.actions._evict import evict_for_job, note_failure, starving_jobs
from scheduler.config import ConfigError
from scheduler.framework.session import Session
from scheduler.plugins._args import check_keys


class ReclaimAction:
    """Cross-queue eviction; victims must pass every ``reclaimable`` filter (capacity, gang)."""

    name = "reclaim"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"max_jobs", "max_nodes"})
        self.max_jobs = int(args.get("max_jobs", 32))
        self.max_nodes = int(args.get("max_nodes", 16))
        if self.max_jobs < 1 or self.max_nodes < 1:
            raise ConfigError("reclaim.args: max_jobs and max_nodes must be >= 1")

    def execute(self, session: Session) -> None:
        """Try starving jobs of queues that hold less than they deserve."""
        snap = session.snapshot
        if len(snap.queues) < 2:
            return
        tried = 0
        for job in starving_jobs(session):
            if tried >= self.max_jobs:
                break
            if snap.queue_tree.queues[job.queue].deserved is None:
                continue
            pool = [v for name, q in snap.queues.items() if name != job.queue for v in q.preemptible_tasks]
            if not pool:
                continue
            tried += 1
            if not evict_for_job(
                session, job, pool, session.reclaimable, action=self.name, max_nodes=self.max_nodes
            ):
                note_failure(session, job, self.name)
