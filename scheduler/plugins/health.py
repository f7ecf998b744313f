"""Health: never place on unhealthy nodes; prefer healthy, fast nodes over degraded or slow ones.

A job that was rescheduled away from nodes where its tasks failed (``JobInfo.avoid_nodes``) is never
placed on those nodes again; when nothing else fits it waits with that reason.

Multi-node gangs (``min_available`` > 1: their tasks talk over the network) are never placed on
network-slow nodes (6.2.3.3 d) and prefer leaf domains without any: a gang's collective runs at the
pace of its slowest link. When only network-slow nodes fit, the gang waits with that reason.
"""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unschedulable
from scheduler.plugins._args import check_keys, number

UNHEALTHY = unschedulable("health", "node unhealthy")
AVOIDED = unschedulable("health", "node where this job's tasks failed (avoided)")
NETWORK_SLOW = unschedulable("health", "node network-slow (multi-node gangs avoid it)")


def spans_nodes(task: TaskInfo) -> bool:
    """True for tasks of a gang whose members must run together (and so talk over the network)."""
    return task.job.min_available > 1


class HealthPlugin:
    """Predicates reject unhealthy nodes (and network-slow ones for gangs); score = 100 / slowdown,
    scaled by ``degraded_factor`` on degraded nodes and, for gangs, by ``slow_domain_factor`` in a
    leaf domain that holds a network-slow node."""

    name = "health"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "degraded_factor", "slow_domain_factor"})
        self.weight = number(self.name, args, "weight", 1.0)
        self.degraded_factor = number(self.name, args, "degraded_factor", 0.5)
        self.slow_domain_factor = number(self.name, args, "slow_domain_factor", 0.5)
        self.slow_leaves: frozenset[str] = frozenset()

    def on_session_open(self, session: Session) -> None:
        """Register predicates and scorer (avoid / network predicates only when some job needs them)."""
        snapshot = session.snapshot
        session.add_predicate(self.name, self.predicate)
        if any(job.avoid_nodes for job in snapshot.waiting.values()):
            session.add_predicate(f"{self.name}/avoid", self.avoid)
        self.slow_leaves = frozenset(
            node.path[1] for node in snapshot.nodes if node.spec.health.network_slow and len(node.path) > 1
        )
        if self.slow_leaves:
            session.add_predicate(f"{self.name}/network", self.network)
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Forget the cycle's network-slow domains."""
        self.slow_leaves = frozenset()

    @staticmethod
    def predicate(task: TaskInfo, node: NodeState) -> Status:
        """Failure on unhealthy nodes."""
        return SUCCESS if node.healthy else UNHEALTHY

    @staticmethod
    def avoid(task: TaskInfo, node: NodeState) -> Status:
        """Failure on nodes the task's job is rescheduled away from."""
        return AVOIDED if node.name in task.job.avoid_nodes else SUCCESS

    @staticmethod
    def network(task: TaskInfo, node: NodeState) -> Status:
        """Failure on network-slow nodes for tasks of multi-node gangs."""
        return NETWORK_SLOW if node.spec.health.network_slow and spans_nodes(task) else SUCCESS

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """100 for healthy nodes at full speed; lower for slow (stragglers) or degraded nodes, and for
        gangs in a leaf domain with a network-slow node."""
        value = 100.0 / node.slowdown
        if node.spec.health.status.value == "degraded":
            value *= self.degraded_factor
        if self.slow_leaves and spans_nodes(task) and len(node.path) > 1 and node.path[1] in self.slow_leaves:
            value *= self.slow_domain_factor
        return value
