"""Health: never place on unhealthy nodes; prefer healthy, fast nodes over degraded or slow ones."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unschedulable
from scheduler.plugins._args import check_keys, number

UNHEALTHY = unschedulable("health", "node unhealthy")


class HealthPlugin:
    """Predicate rejects unhealthy nodes; score = 100 / slowdown, halved on degraded nodes."""

    name = "health"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "degraded_factor"})
        self.weight = number(self.name, args, "weight", 1.0)
        self.degraded_factor = number(self.name, args, "degraded_factor", 0.5)

    def on_session_open(self, session: Session) -> None:
        """Register predicate and scorer."""
        session.add_predicate(self.name, self.predicate)
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    @staticmethod
    def predicate(task: TaskInfo, node: NodeState) -> Status:
        """Failure on unhealthy nodes."""
        return SUCCESS if node.healthy else UNHEALTHY

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """100 for healthy nodes at full speed; lower for slow (stragglers) or degraded nodes."""
        value = 100.0 / node.slowdown
        if node.spec.health.status.value == "degraded":
            value *= self.degraded_factor
        return value
