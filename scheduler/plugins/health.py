"""Health: never place on unhealthy nodes; prefer healthy, fast nodes over degraded or slow ones.

A job that was rescheduled away from nodes where its tasks failed (``JobInfo.avoid_nodes``) is never
placed on those nodes again; when nothing else fits it waits with that reason.
"""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unschedulable
from scheduler.plugins._args import check_keys, number

UNHEALTHY = unschedulable("health", "node unhealthy")
AVOIDED = unschedulable("health", "node where this job's tasks failed (avoided)")


class HealthPlugin:
    """Predicate rejects unhealthy nodes; score = 100 / slowdown, halved on degraded nodes."""

    name = "health"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "degraded_factor"})
        self.weight = number(self.name, args, "weight", 1.0)
        self.degraded_factor = number(self.name, args, "degraded_factor", 0.5)

    def on_session_open(self, session: Session) -> None:
        """Register predicates and scorer (the avoid predicate only when some job avoids nodes)."""
        session.add_predicate(self.name, self.predicate)
        if any(job.avoid_nodes for job in session.snapshot.waiting.values()):
            session.add_predicate(f"{self.name}/avoid", self.avoid)
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    @staticmethod
    def predicate(task: TaskInfo, node: NodeState) -> Status:
        """Failure on unhealthy nodes."""
        return SUCCESS if node.healthy else UNHEALTHY

    @staticmethod
    def avoid(task: TaskInfo, node: NodeState) -> Status:
        """Failure on nodes the task's job is rescheduled away from."""
        return AVOIDED if node.name in task.job.avoid_nodes else SUCCESS

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """100 for healthy nodes at full speed; lower for slow (stragglers) or degraded nodes."""
        value = 100.0 / node.slowdown
        if node.spec.health.status.value == "degraded":
            value *= self.degraded_factor
        return value
