"""GPU topology: give multi-device tasks devices that share the fastest intra-node link.

Link groups (NVLink, HCCS, PCIe switch, NUMA) come from the node model. For a task needing ``k``
whole devices the plugin picks the fastest group with ``k`` free members, preferring the group
with the fewest free devices (keeps large well-linked groups intact for later tasks). Score:
100 × chosen bandwidth / the node's best bandwidth; 100 for single-device and CPU-only tasks.
"""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import FULL, NodeState, TaskInfo
from scheduler.model.cluster import LinkGroup
from scheduler.plugins._args import check_keys, number


class GpuTopologyPlugin:
    """Device selector and scorer for intra-node accelerator links."""

    name = "gpu-topology"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight"})
        self.weight = number(self.name, args, "weight", 1.0)
        self._groups: dict[tuple[LinkGroup, ...], tuple[tuple[LinkGroup, ...], float]] = {}

    def on_session_open(self, session: Session) -> None:
        """Register the device selector and scorer."""
        session.add_device_selector(self.name, self.select)
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """The link cache is keyed by immutable nodes and kept across cycles."""

    def _sorted_groups(self, node: NodeState) -> tuple[tuple[LinkGroup, ...], float]:
        cached = self._groups.get(node.spec.links)
        if cached is None:
            groups = tuple(sorted(node.spec.links, key=lambda g: -g.bandwidth_gbps))
            cached = (groups, groups[0].bandwidth_gbps if groups else 0.0)
            self._groups[node.spec.links] = cached
        return cached

    def _pick(self, task: TaskInfo, node: NodeState) -> tuple[tuple[int, ...], float] | None:
        groups, _ = self._sorted_groups(node)
        free = node.acc_free
        best: tuple[float, int, tuple[int, ...]] | None = None
        for group in groups:
            members = [m for m in group.members if free[m] == FULL]
            if len(members) < task.acc_count:
                continue
            rank = (group.bandwidth_gbps, -len(members), tuple(members[: task.acc_count]))
            if best is None or rank[:2] > best[:2]:
                best = rank
        return (best[2], best[0]) if best is not None else None

    def select(self, task: TaskInfo, node: NodeState) -> tuple[int, ...] | None:
        """Devices inside the fastest, tightest link group; None to defer to other selectors."""
        if task.acc_count == 0 or task.shared or not node.spec.links:
            return None
        picked = self._pick(task, node)
        return picked[0] if picked is not None else None

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Relative bandwidth among the chosen devices."""
        if task.acc_count <= 1 or task.shared:
            return 100.0
        groups, top = self._sorted_groups(node)
        if top <= 0:
            return 0.0
        chosen = set(devices)
        for group in groups:
            if chosen.issubset(group.members):
                return 100.0 * group.bandwidth_gbps / top
        return 0.0
