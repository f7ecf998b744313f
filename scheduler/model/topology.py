"""Network topology tree (node → leaf → spine → pod) with RDMA fabric attributes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.model.errors import ModelError

DEFAULT_TIERS = ("node", "leaf", "spine", "pod")


class FabricKind(StrEnum):
    """RDMA fabric technology."""

    INFINIBAND = "infiniband"
    ROCE = "roce"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RdmaFabric:
    """RDMA attributes of a switch domain; ``simulated`` when not backed by real hardware."""

    kind: FabricKind = FabricKind.ROCE
    bandwidth_gbps: float = 200.0
    simulated: bool = True


@dataclass(frozen=True, slots=True)
class TopologyDomain:
    """A switch domain at a tier above ``node`` (leaf, spine, pod)."""

    name: str
    tier: str
    parent: str | None
    fabric: RdmaFabric = RdmaFabric()


@dataclass(frozen=True)
class Topology:
    """A tree of domains. ``tiers[0]`` is always ``node``; every node hangs off one leaf-tier domain.

    ``paths[node]`` lists the node's domains from the lowest tier above ``node`` up to the root tier,
    so ``paths[node][level - 1]`` is its domain at ``tiers[level]``.
    """

    tiers: tuple[str, ...]
    domains: Mapping[str, TopologyDomain]
    node_leaf: Mapping[str, str]
    paths: Mapping[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.tiers) < 2 or self.tiers[0] != "node" or len(set(self.tiers)) != len(self.tiers):
            raise ModelError("topology.tiers", "must start with 'node' and name at least one switch tier")
        for dom in self.domains.values():
            if dom.tier not in self.tiers[1:]:
                raise ModelError(f"topology.domains[{dom.name}].tier", f"unknown tier {dom.tier!r}")
            level = self.tiers.index(dom.tier)
            if dom.parent is None:
                if level != len(self.tiers) - 1:
                    raise ModelError(
                        f"topology.domains[{dom.name}].parent", "only top-tier domains lack a parent"
                    )
            else:
                up = self.domains.get(dom.parent)
                if up is None or self.tiers.index(up.tier) != level + 1:
                    raise ModelError(f"topology.domains[{dom.name}].parent", "must be a domain one tier up")
        paths: dict[str, tuple[str, ...]] = {}
        for node, leaf in self.node_leaf.items():
            leaf_dom = self.domains.get(leaf)
            if leaf_dom is None or leaf_dom.tier != self.tiers[1]:
                raise ModelError(f"topology.node_leaf[{node}]", f"{leaf!r} is not a {self.tiers[1]} domain")
            chain = [leaf]
            while (above := self.domains[chain[-1]].parent) is not None:
                chain.append(above)
            paths[node] = tuple(chain)
        object.__setattr__(self, "paths", paths)

    def level(self, tier: str) -> int:
        """Index of ``tier`` in :attr:`tiers`; raises ModelError for an unknown tier."""
        try:
            return self.tiers.index(tier)
        except ValueError:
            raise ModelError("topology.tier", f"unknown tier {tier!r}; known: {list(self.tiers)}") from None

    def domain_of(self, node: str, tier: str) -> str:
        """The node's domain at ``tier`` (the node's own name at tier ``node``)."""
        level = self.level(tier)
        return node if level == 0 else self.paths[node][level - 1]

    @classmethod
    def flat(cls, node_names: Sequence[str]) -> Topology:
        """One leaf holding every node, under one spine and one pod (a machine without a fabric)."""
        return cls.tree(node_names, leaf_size=max(1, len(node_names)), leaves_per_spine=1, spines_per_pod=1)

    @classmethod
    def tree(
        cls,
        node_names: Sequence[str],
        *,
        leaf_size: int,
        leaves_per_spine: int,
        spines_per_pod: int,
        fabric: RdmaFabric | None = None,
    ) -> Topology:
        """A regular 3-tier tree filled in ``node_names`` order (``leaf-i``, ``spine-j``, ``pod-k``)."""
        if min(leaf_size, leaves_per_spine, spines_per_pod) < 1:
            raise ModelError("topology", "tier sizes must be >= 1")
        fab = fabric or RdmaFabric()
        domains: dict[str, TopologyDomain] = {}
        node_leaf: dict[str, str] = {}
        for i, node in enumerate(node_names):
            leaf_i = i // leaf_size
            spine_i = leaf_i // leaves_per_spine
            pod_i = spine_i // spines_per_pod
            leaf, spine, pod = f"leaf-{leaf_i}", f"spine-{spine_i}", f"pod-{pod_i}"
            domains.setdefault(pod, TopologyDomain(pod, "pod", None, fab))
            domains.setdefault(spine, TopologyDomain(spine, "spine", pod, fab))
            domains.setdefault(leaf, TopologyDomain(leaf, "leaf", spine, fab))
            node_leaf[node] = leaf
        return cls(DEFAULT_TIERS, domains, node_leaf)
