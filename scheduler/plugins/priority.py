"""Priority: higher-priority jobs first; victims must have lower priority than the preemptor."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import TaskInfo
from scheduler.plugins._args import check_keys


class PriorityPlugin:
    """Job order by descending priority; preemptable keeps only lower-priority, preemptible victims."""

    name = "priority"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())

    def on_session_open(self, session: Session) -> None:
        """Register the order key and the victim filter."""
        session.add_job_order(self.name, lambda job: -job.priority)
        session.add_preemptable(self.name, self.victims)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    @staticmethod
    def victims(preemptor: TaskInfo, pool: list[TaskInfo]) -> list[TaskInfo]:
        """Preemptible tasks of strictly lower priority."""
        prio = preemptor.job.priority
        return [v for v in pool if v.job.preemptible and v.job.priority < prio]
