"""Turn a trace into scheduler inputs, adding what the trace lacks (all with a fixed seed).

* Topology: nodes sorted by GPU model then name, 16 nodes per leaf, 8 leaves per spine, 4 spines
  per pod (racks hold one model, as real clusters do); simulated RoCE fabric.
* Queues: ``queues`` leaf queues with equal deserved shares (no cap); each pod goes to a queue
  drawn by ``random.Random(seed)``.
* Gangs: consecutive pods with the same creation time and the same shape form one job with that
  many replicas (gang minimum = all); GPU gangs prefer one leaf (preferred topology constraint).
* Priority: qos LS → high, Burstable/Guaranteed → normal, BE → low. Pods are non-preemptible,
  so preempt/reclaim never evict in a replay and policies differ only in placement.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.framework.snapshot import WorkloadClass
from scheduler.model.cluster import Accelerator, AcceleratorModel, Arch, LinkGroup, LinkKind, Node, Vendor
from scheduler.model.inventory import Inventory
from scheduler.model.job import (
    AcceleratorRequest,
    JobSpec,
    SharingMode,
    TaskGroup,
    TopologyConstraint,
    TopologyMode,
)
from scheduler.model.queue import Queue, QueueTree
from scheduler.model.resources import Resources
from scheduler.model.topology import FabricKind, RdmaFabric, Topology
from scheduler.simulator.traces.openb import TraceNode, TracePod

GPU_MEMORY_MIB = {"P100": 16384, "T4": 16384, "V100M16": 16384, "V100M32": 32768, "A10": 24576}
"""Known device memory; G1/G2/G3 are undisclosed models and get 0 (memory not modelled)."""

LEAF_SIZE, LEAVES_PER_SPINE, SPINES_PER_POD = 16, 8, 4
QOS_PRIORITY = {"LS": "high", "Burstable": "normal", "Guaranteed": "normal", "BE": "low"}


@dataclass(frozen=True)
class SimJob:
    """A job for the simulator: its spec, arrival time and run time (None = runs forever)."""

    spec: JobSpec
    arrival: float
    duration: float | None


def build_inventory(nodes: Sequence[TraceNode]) -> Inventory:
    """Simulated inventory of the trace nodes on a synthetic 3-tier topology."""
    models: dict[str, AcceleratorModel] = {}
    built = []
    for tn in sorted(nodes, key=lambda n: (n.model, n.name)):
        accs: tuple[Accelerator, ...] = ()
        links: tuple[LinkGroup, ...] = ()
        if tn.gpus:
            model = models.setdefault(
                tn.model, AcceleratorModel(Vendor.NVIDIA, tn.model, GPU_MEMORY_MIB.get(tn.model, 0), 0)
            )
            accs = tuple(Accelerator(i, model) for i in range(tn.gpus))
            links = (LinkGroup(LinkKind.PCIE_SWITCH, tuple(range(tn.gpus)), 128.0),)
        built.append(Node(tn.name, tn.cpu_milli, tn.memory_mib, Arch.X86_64, accs, links))
    topo = Topology.tree(
        [n.name for n in built],
        leaf_size=LEAF_SIZE,
        leaves_per_spine=LEAVES_PER_SPINE,
        spines_per_pod=SPINES_PER_POD,
        fabric=RdmaFabric(FabricKind.ROCE, 100.0, simulated=True),
    )
    return Inventory(tuple(built), topo, simulated=True)


def build_queues(inventory: Inventory, count: int) -> QueueTree:
    """``count`` queues, each deserving an equal share of the cluster."""
    cpu = sum(n.cpu_milli for n in inventory.nodes)
    mem = sum(n.memory_mib for n in inventory.nodes)
    acc = sum(len(n.accelerators) for n in inventory.nodes) * 1000
    share = Resources(cpu // count, mem // count, acc // count)
    return QueueTree([Queue(f"q{i}", deserved=share) for i in range(count)])


def _shape(p: TracePod) -> tuple[object, ...]:
    return (p.creation_time, p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.gpu_spec, p.qos, p.duration)


def build_jobs(pods: Sequence[TracePod], *, queues: int, seed: int, gangs: bool = True) -> list[SimJob]:
    """Jobs from pods (grouped into gangs when ``gangs``), in arrival order."""
    rng = random.Random(seed)
    groups: list[list[TracePod]] = []
    for pod in pods:
        if gangs and groups and _shape(groups[-1][0]) == _shape(pod):
            groups[-1].append(pod)
        else:
            groups.append([pod])
    jobs = []
    for members in groups:
        p = members[0]
        req = None
        if p.num_gpu == 1 and p.gpu_milli < 1000:
            req = AcceleratorRequest(1, p.gpu_spec, SharingMode.SHARED, p.gpu_milli, 0)
        elif p.num_gpu:
            req = AcceleratorRequest(p.num_gpu, p.gpu_spec)
        n = len(members)
        topo = TopologyConstraint("leaf", TopologyMode.PREFERRED) if n > 1 and req else None
        spec = JobSpec(
            id=p.name if n == 1 else f"{p.name}+{n - 1}",
            queue=f"q{rng.randrange(queues)}",
            groups=(TaskGroup("pod", n, p.cpu_milli, p.memory_mib, req),),
            priority_class=QOS_PRIORITY.get(p.qos, "normal"),
            preemptible=False,
            topology=topo,
            created_at=float(p.creation_time),
        )
        jobs.append(SimJob(spec, float(p.creation_time), p.duration))
    return jobs


def workload_profile(pods: Sequence[TracePod], limit: int = 64) -> tuple[WorkloadClass, ...]:
    """FGD task distribution of the trace: popularity of (GPUs, share, CPU, memory) classes."""
    counts: Counter[tuple[int, int, int, int]] = Counter()
    for p in pods:
        if p.num_gpu:
            k, milli = (1, p.gpu_milli) if p.num_gpu == 1 else (p.num_gpu, 1000)
            counts[(k, milli, p.cpu_milli, p.memory_mib)] += 1
    total = sum(counts.values()) or 1
    return tuple(WorkloadClass(k, m, c, mem, n / total) for (k, m, c, mem), n in counts.most_common(limit))


def synthesis_note(*, queues: int, seed: int, gangs: bool) -> dict[str, object]:
    """How the missing parts were synthesised, for the report."""
    return {
        "seed": seed,
        "topology": f"nodes sorted by GPU model; {LEAF_SIZE} per leaf, {LEAVES_PER_SPINE} leaves per spine, "
        f"{SPINES_PER_POD} spines per pod; RoCE fabric (simulated)",
        "queues": f"{queues} queues with equal deserved shares; pods assigned by random.Random(seed)",
        "gangs": "consecutive pods with equal creation time and shape form one gang (preferred: one leaf)"
        if gangs
        else "none (every pod is its own job)",
        "priority": "qos LS=high, Burstable/Guaranteed=normal, BE=low; all non-preemptible",
    }
