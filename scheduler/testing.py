"""Builders for scheduler tests and examples (Kueue ``MakeWorkload(...).Obj()`` style)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from scheduler import JobRecord, Scheduler, Snapshot
from scheduler.config import parse_config
from scheduler.model import (
    Accelerator,
    AcceleratorModel,
    AcceleratorRequest,
    Arch,
    Inventory,
    JobSpec,
    LinkGroup,
    LinkKind,
    Node,
    NodeHealth,
    QueueTree,
    SharingMode,
    TaskGroup,
    Topology,
    TopologyConstraint,
    TopologyMode,
    Vendor,
)

A100 = AcceleratorModel(Vendor.NVIDIA, "A100", 81920, 108)
ASCEND = AcceleratorModel(Vendor.HUAWEI_ASCEND, "Ascend910B", 65536, 24)


def make_node(
    name: str,
    gpus: int = 8,
    *,
    model: AcceleratorModel = A100,
    cpu: int = 64_000,
    mem: int = 512_000,
    arch: Arch = Arch.X86_64,
    health: NodeHealth | None = None,
    links: tuple[LinkGroup, ...] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Node:
    """A node with ``gpus`` devices (by default two NVLink halves) and ``labels``."""
    accs = tuple(Accelerator(i, model) for i in range(gpus))
    if links is None and gpus >= 2:
        half = gpus // 2
        links = (
            LinkGroup(LinkKind.NVLINK, tuple(range(half)), 600.0),
            LinkGroup(LinkKind.NVLINK, tuple(range(half, gpus)), 600.0),
            LinkGroup(LinkKind.PCIE_SWITCH, tuple(range(gpus)), 64.0),
        )
    return Node(
        name, cpu, mem, arch, accs, links or (), health or NodeHealth(), MappingProxyType(dict(labels or {}))
    )


def make_inventory(nodes: list[Node], *, leaf_size: int = 2, leaves_per_spine: int = 2) -> Inventory:
    """Nodes in list order on a leaf/spine/pod tree."""
    topo = Topology.tree(
        [n.name for n in nodes], leaf_size=leaf_size, leaves_per_spine=leaves_per_spine, spines_per_pod=4
    )
    return Inventory(tuple(nodes), topo, simulated=True)


@dataclass
class JobBuilder:
    """Fluent job spec builder: ``job("a").gpus(2).replicas(4).obj()``."""

    id: str
    queue: str = "default"
    _groups: list[TaskGroup] = field(default_factory=list)
    _kw: dict[str, Any] = field(default_factory=dict)

    def group(
        self,
        name: str = "w",
        replicas: int = 1,
        *,
        gpus: int = 0,
        share: int = 0,
        types: tuple[str, ...] = (),
        cpu: int = 1000,
        mem: int = 1024,
        min_replicas: int | None = None,
    ) -> JobBuilder:
        req = None
        if share:
            req = AcceleratorRequest(1, types, SharingMode.SHARED, share, 0)
        elif gpus:
            req = AcceleratorRequest(gpus, types)
        self._groups.append(TaskGroup(name, replicas, cpu, mem, req, min_replicas))
        return self

    def on(self, queue: str) -> JobBuilder:
        self.queue = queue
        return self

    def with_(self, **kw: Any) -> JobBuilder:
        self._kw.update(kw)
        return self

    def select(self, selector: Mapping[str, str]) -> JobBuilder:
        """Every task's node must carry all ``selector`` labels."""
        self._kw["node_selector"] = tuple(sorted(selector.items()))
        return self

    def topology(self, tier: str, mode: TopologyMode = TopologyMode.REQUIRED) -> JobBuilder:
        self._kw["topology"] = TopologyConstraint(tier, mode)
        return self

    def obj(self) -> JobSpec:
        groups = self._groups or [TaskGroup("w", 1, 1000, 1024)]
        return JobSpec(self.id, self.queue, tuple(groups), **self._kw)


def job(job_id: str) -> JobBuilder:
    """Start a job spec."""
    return JobBuilder(job_id)


def config(
    plugins: list[str | tuple[str, dict[str, Any]]],
    actions: tuple[str, ...] = ("enqueue", "allocate"),
    **sampling: int,
) -> Any:
    """A one-tier config with the given plugins."""
    entries = [{"name": p} if isinstance(p, str) else {"name": p[0], "args": p[1]} for p in plugins]
    return parse_config(
        {"actions": list(actions), "tiers": [{"plugins": entries}], "sampling": sampling or {}}
    )


def cycle(
    sched: Scheduler,
    inventory: Inventory,
    specs: list[JobSpec],
    queues: QueueTree | None = None,
    records: list[JobRecord] | None = None,
) -> tuple[Snapshot, Any]:
    """Run one cycle on a fresh snapshot; returns (snapshot, result)."""
    snap = Snapshot(
        inventory, queues or QueueTree.single(), [*(records or []), *(JobRecord(s) for s in specs)]
    )
    return snap, sched.run_cycle(snap)
