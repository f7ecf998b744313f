"""First-fit: prefer the node listed first in the inventory (baseline policy)."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.plugins._args import check_keys


class FirstFitPlugin:
    """Score = 100 × (1 − position / node count). With ``sampling.per_bucket: 1`` this is exact first-fit."""

    name = "firstfit"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())
        self._count = 1

    def on_session_open(self, session: Session) -> None:
        """Register the scorer."""
        self._count = max(1, len(session.snapshot.nodes))
        session.add_scorer(self.name, self.score, 1.0)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Earlier nodes score higher."""
        return 100.0 * (1.0 - node.pos / self._count)
