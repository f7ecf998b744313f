"""A cluster inventory: nodes plus their network topology."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.model.cluster import AcceleratorModel, Node
from scheduler.model.errors import ModelError
from scheduler.model.topology import Topology


@dataclass(frozen=True)
class Inventory:
    """Nodes and topology. ``simulated`` is True when any part does not describe real hardware."""

    nodes: tuple[Node, ...]
    topology: Topology
    simulated: bool

    def __post_init__(self) -> None:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ModelError("inventory.nodes", "node names must be unique")
        missing = [n for n in names if n not in self.topology.paths]
        if missing:
            raise ModelError("inventory.topology", f"node {missing[0]!r} is not placed in the topology")

    def accelerator_models(self) -> dict[str, AcceleratorModel]:
        """Every accelerator product present, keyed by model name."""
        out: dict[str, AcceleratorModel] = {}
        for node in self.nodes:
            model = node.accelerator_model
            if model is not None:
                out[model.model] = model
        return out
