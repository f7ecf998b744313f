"""Spread: prefer the emptiest node (kube LeastAllocated)."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.plugins._args import check_keys, number
from scheduler.plugins.binpack import resource_weights, utilisation_after


class SpreadPlugin:
    """Score = 100 × (1 − weighted utilisation after placement)."""

    name = "spread"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "resources"})
        self.weight = number(self.name, args, "weight", 1.0)
        self.weights = resource_weights(self.name, args)

    def on_session_open(self, session: Session) -> None:
        """Register the scorer."""
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Higher for emptier nodes."""
        return 100.0 * (1.0 - utilisation_after(task, node, self.weights))
