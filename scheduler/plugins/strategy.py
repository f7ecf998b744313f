"""Placement strategy: honour a job's own ``placement`` (binpack or spread) over the default policy.

A job that names a strategy gets the binpack score (fullest node after placement first) or the
spread score (emptiest first) for its tasks; jobs without one get a constant score, which leaves
the configured scorers to decide. Give the plugin a weight that dominates the other scorers so
the job's request wins. The scorer is registered only in cycles where some waiting job asks.
"""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.model.job import PlacementStrategy
from scheduler.plugins._args import check_keys, number
from scheduler.plugins.binpack import resource_weights, utilisation_after

NEUTRAL = 50.0


class PlacementStrategyPlugin:
    """Scorer for jobs with ``JobSpec.placement`` set."""

    name = "placement-strategy"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "resources"})
        self.weight = number(self.name, args, "weight", 1.0)
        self.weights = resource_weights(self.name, args)

    def on_session_open(self, session: Session) -> None:
        """Register the scorer when a waiting job names a strategy."""
        if any(job.spec.placement is not None for job in session.snapshot.waiting.values()):
            session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Binpack: 100 × utilisation after placement; spread: 100 × (1 − it); none: neutral."""
        strategy = task.job.spec.placement
        if strategy is None:
            return NEUTRAL
        used = 100.0 * utilisation_after(task, node, self.weights)
        return used if strategy is PlacementStrategy.BINPACK else 100.0 - used
