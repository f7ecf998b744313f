"""Dominant Resource Fairness: jobs with the smallest dominant share go first."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import JobInfo, TaskInfo
from scheduler.plugins._args import check_keys


class DrfPlugin:
    """Job order by dominant share (max over CPU, memory, accelerators of allocated/cluster total)."""

    name = "drf"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())
        self._total: list[int] = [1, 1, 1]

    def on_session_open(self, session: Session) -> None:
        """Register the order key and a share-based victim filter."""
        self._total = [max(1, v) for v in session.snapshot.total]
        session.add_job_order(self.name, self.share)
        session.add_preemptable(self.name, self.victims)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    def share(self, job: JobInfo, extra: tuple[int, int, int] = (0, 0, 0)) -> float:
        """Dominant share of ``job`` after adding ``extra``."""
        t = self._total
        a = job.alloc
        return max((a[0] + extra[0]) / t[0], (a[1] + extra[1]) / t[1], (a[2] + extra[2]) / t[2])

    def victims(self, preemptor: TaskInfo, pool: list[TaskInfo]) -> list[TaskInfo]:
        """Victims whose job keeps a larger share than the preemptor's job would reach."""
        after = self.share(preemptor.job, (preemptor.cpu, preemptor.mem, preemptor.accel_demand))
        return [v for v in pool if v.job.priority < preemptor.job.priority or self.share(v.job) > after]
