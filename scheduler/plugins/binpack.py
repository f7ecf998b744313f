"""Binpack / best-fit: prefer the node that is fullest after placing the task."""

from __future__ import annotations

from typing import Any

from scheduler.config import ConfigError
from scheduler.framework.session import Session
from scheduler.framework.snapshot import NodeState, TaskInfo
from scheduler.plugins._args import check_keys, number

RESOURCE_KEYS = ("cpu", "memory", "accelerators")


def resource_weights(owner: str, args: dict[str, Any]) -> tuple[float, float, float]:
    """Per-resource weights from ``args['resources']`` (default: accelerators 1, cpu 1, memory 1)."""
    raw = args.get("resources", {}) or {}
    if not isinstance(raw, dict) or set(raw) - set(RESOURCE_KEYS):
        raise ConfigError(f"{owner}.args.resources: keys must be among {RESOURCE_KEYS}")
    w = tuple(number(owner, raw, k, 1.0) for k in RESOURCE_KEYS)
    if sum(w) <= 0:
        raise ConfigError(f"{owner}.args.resources: at least one weight must be > 0")
    return (w[0], w[1], w[2])


def utilisation_after(task: TaskInfo, node: NodeState, weights: tuple[float, float, float]) -> float:
    """Weighted used/total of the node after placing ``task``, in [0, 1]."""
    wc, wm, wa = weights
    total = used = 0.0
    if wc:
        used += wc * (node.cpu_total - node.cpu_free + task.cpu) / node.cpu_total
        total += wc
    if wm:
        used += wm * (node.mem_total - node.mem_free + task.mem) / node.mem_total
        total += wm
    if wa and node.n_acc:
        acc_used = node.n_acc * 1000 - sum(node.acc_free) + task.accel_demand
        used += wa * acc_used / (node.n_acc * 1000)
        total += wa
    return used / total if total else 0.0


class BinpackPlugin:
    """Score = 100 × weighted utilisation after placement.

    ``absolute: true`` scores the absolute remaining resources instead (best-fit: the node with the
    least left over wins), normalised by the largest node of the cluster.
    """

    name = "binpack"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "resources", "absolute"})
        self.weight = number(self.name, args, "weight", 1.0)
        self.weights = resource_weights(self.name, args)
        self.absolute = bool(args.get("absolute", False))
        self._max = (1.0, 1.0, 1.0)

    def on_session_open(self, session: Session) -> None:
        """Register the scorer."""
        self._max = (
            float(max((n.cpu_total for n in session.snapshot.node_classes()), default=1)),
            float(max((n.mem_total for n in session.snapshot.node_classes()), default=1)),
            float(max(1, session.snapshot.max_devices) * 1000),
        )
        session.add_scorer(self.name, self.score_absolute if self.absolute else self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Nothing to drop."""

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Higher for fuller nodes."""
        return 100.0 * utilisation_after(task, node, self.weights)

    def score_absolute(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Higher for less absolute leftover (best-fit)."""
        wc, wm, wa = self.weights
        mc, mm, ma = self._max
        left = (
            wc * (node.cpu_free - task.cpu) / mc
            + wm * (node.mem_free - task.mem) / mm
            + wa * (sum(node.acc_free) - task.accel_demand) / ma
        )
        return 100.0 * (1.0 - left / (wc + wm + wa))
