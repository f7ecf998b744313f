"""Enqueue: admit pending jobs whose queues can take their gang minimum (Volcano ``enqueue``)."""

from __future__ import annotations

from typing import Any

from scheduler.actions.allocate import mark_failure
from scheduler.framework.session import Session
from scheduler.framework.statement import Statement
from scheduler.model.state import JobEvent, JobState
from scheduler.plugins._args import check_keys


class EnqueueAction:
    """PENDING → QUEUED when admission checks pass; else reasons, or UNSCHEDULABLE if it never fits."""

    name = "enqueue"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())

    def execute(self, session: Session) -> None:
        """Admit jobs in job order."""
        pending = [j for j in session.snapshot.waiting_jobs() if j.state is JobState.PENDING]
        pending.sort(key=session.job_key)
        for job in pending:
            status = session.enqueueable(job)
            if not status.ok:
                mark_failure(session, job, [status])  # also detects jobs that can never fit
                continue
            stmt = Statement(session)
            stmt.move(job, JobEvent.ADMIT, "queue has room for the gang minimum")
            stmt.commit()
