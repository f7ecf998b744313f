"""Backfill: grow running elastic jobs toward ``replicas`` with whatever is left (one task at a time)."""

from __future__ import annotations

from typing import Any

from scheduler.actions.allocate import place_tasks
from scheduler.framework.session import Session
from scheduler.framework.statement import Statement
from scheduler.model.state import JobState
from scheduler.plugins._args import check_keys


class BackfillAction:
    """Places non-essential (elastic) tasks of ready jobs without gang constraints."""

    name = "backfill"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())

    def execute(self, session: Session) -> None:
        """For each ready job with unplaced tasks, in job order, place as many tasks as fit."""
        snap = session.snapshot
        jobs = [
            j
            for j in snap.waiting_jobs()
            if j.state in (JobState.SCHEDULED, JobState.RUNNING) and j.ready and j.placed < len(j.tasks)
        ]
        jobs.sort(key=session.job_key)
        for job in jobs:
            domain = None
            if job.spec.topology is not None and job.spec.topology.mode.value == "required":
                anchor = job.tasks[0].node
                if anchor is None:
                    continue
                domain = anchor.path[snap.tiers.index(job.spec.topology.tier)]
            stmt = Statement(session)
            place_tasks(session, job, stmt, domain, len(job.tasks))
            stmt.commit()
