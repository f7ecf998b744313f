"""Scheduler benchmarks: placement throughput on a large simulated cluster and one big gang.

Both run the real :class:`~scheduler.Scheduler` with a bundled config on a simulated inventory
(``simulated: true`` in the result). Figures are wall-clock on one core of this machine.
"""

from __future__ import annotations

import platform
import random
import time
from collections.abc import Callable
from typing import Any

from scheduler.config import load_config
from scheduler.framework.scheduler import Scheduler
from scheduler.framework.snapshot import JobRecord, Snapshot
from scheduler.model.cluster import Accelerator, AcceleratorModel, Arch, LinkGroup, LinkKind, Node, Vendor
from scheduler.model.inventory import Inventory
from scheduler.model.job import (
    AcceleratorRequest,
    JobSpec,
    JobType,
    SharingMode,
    TaskGroup,
    TopologyConstraint,
    TopologyMode,
)
from scheduler.model.queue import QueueTree
from scheduler.model.topology import FabricKind, RdmaFabric, Topology

GPU = AcceleratorModel(Vendor.NVIDIA, "H100-SXM5-80GB", 81920, 132)
SHAPES = ((1, 0.60), (2, 0.20), (4, 0.10), (8, 0.05), (0, 0.05))  # (GPUs, share); 0 = half a GPU


def bench_inventory(nodes: int, accelerators_per_node: int) -> Inventory:
    """``nodes`` identical simulated servers on a 3-tier tree: 32 nodes/leaf, 8 leaves/spine, 4 spines/pod."""
    accs = tuple(
        Accelerator(i, GPU, numa_node=i * 2 // max(1, accelerators_per_node))
        for i in range(accelerators_per_node)
    )
    links = (LinkGroup(LinkKind.NVLINK, tuple(range(accelerators_per_node)), 3600.0),)
    specs = tuple(Node(f"node-{i:05d}", 192_000, 2_097_152, Arch.X86_64, accs, links) for i in range(nodes))
    topo = Topology.tree(
        [n.name for n in specs],
        leaf_size=32,
        leaves_per_spine=8,
        spines_per_pod=4,
        fabric=RdmaFabric(FabricKind.INFINIBAND, 400.0, simulated=True),
    )
    return Inventory(specs, topo, simulated=True)


def bench_jobs(count: int, seed: int) -> list[JobSpec]:
    """Single-task jobs: 60% 1 GPU, 20% 2, 10% 4, 5% 8, 5% half a GPU (shared)."""
    rng = random.Random(seed)
    shapes = [s for s, _ in SHAPES]
    weights = [w for _, w in SHAPES]
    jobs = []
    for i in range(count):
        gpus = rng.choices(shapes, weights)[0]
        req = AcceleratorRequest(gpus) if gpus else AcceleratorRequest(1, (), SharingMode.SHARED, 500, 20480)
        jobs.append(
            JobSpec(
                f"job-{i:06d}",
                "default",
                (TaskGroup("main", 1, 2000 * max(gpus, 1), 16384 * max(gpus, 1), req),),
                created_at=float(i),
            )
        )
    return jobs


def run_throughput(
    *,
    nodes: int = 5000,
    accelerators_per_node: int = 8,
    pods: int = 20000,
    batch: int = 1000,
    config: str = "default",
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Submit ``pods`` single-task jobs, ``batch`` per cycle; pods/s = placed pods / total cycle time."""
    inventory = bench_inventory(nodes, accelerators_per_node)
    t0 = time.perf_counter()
    snapshot = Snapshot(inventory, QueueTree.single())
    build_s = time.perf_counter() - t0
    scheduler = Scheduler(load_config(config))
    jobs = bench_jobs(pods, seed)
    placed = 0
    cycle_s = 0.0
    for start in range(0, len(jobs), batch):
        chunk = jobs[start : start + batch]
        for spec in chunk:
            snapshot.add_job(JobRecord(spec))
        t1 = time.perf_counter()
        result = scheduler.run_cycle(snapshot)
        cycle_s += time.perf_counter() - t1
        placed += len(result.placements)
        if progress is not None:
            progress(len(chunk))
    return {
        "metric": "scheduler_placement_throughput",
        "pods_per_second": placed / cycle_s if cycle_s else 0.0,
        "unit": "pods/s",
        "pods_submitted": pods,
        "pods_placed": placed,
        "cycle_seconds": cycle_s,
        "snapshot_build_seconds": build_s,
        "gpu_alloc_ratio": snapshot.used[2] / snapshot.total[2],
        "nodes": nodes,
        "accelerators_per_node": accelerators_per_node,
        "config": config,
        "method": f"{pods} single-task jobs (60% 1 GPU, 20% 2, 10% 4, 5% 8, 5% half-GPU shared) submitted in "
        f"batches of {batch}, one scheduling cycle per batch; pods/s = placed pods / total cycle time",
        "simulated": True,
        "environment": _environment(),
    }


def run_gang(
    *,
    nodes: int = 5000,
    accelerators_per_node: int = 8,
    tasks: int = 1024,
    gpus_per_task: int = 1,
    tier: str = "spine",
    config: str = "default",
) -> dict[str, Any]:
    """Time to place one gang of ``tasks`` tasks that must share one ``tier`` domain, on an empty cluster."""
    inventory = bench_inventory(nodes, accelerators_per_node)
    snapshot = Snapshot(inventory, QueueTree.single())
    scheduler = Scheduler(load_config(config))
    spec = JobSpec(
        "gang",
        "default",
        (TaskGroup("worker", tasks, 4000, 65536, AcceleratorRequest(gpus_per_task)),),
        type=JobType.TRAIN,
        topology=TopologyConstraint(tier, TopologyMode.REQUIRED),
    )
    snapshot.add_job(JobRecord(spec))
    t0 = time.perf_counter()
    result = scheduler.run_cycle(snapshot)
    elapsed = time.perf_counter() - t0
    domains = {snapshot.by_name[p.node].path[snapshot.tiers.index(tier)] for p in result.placements}
    return {
        "metric": "gang_placement_seconds",
        "seconds": elapsed,
        "unit": "s",
        "tasks": tasks,
        "gpus_per_task": gpus_per_task,
        "placed": len(result.placements),
        "required_tier": tier,
        "domains_used": sorted(domains),
        "method": f"one {tasks}-task gang ({gpus_per_task} GPU each), topology required at tier "
        f"{tier!r} of a node/leaf/spine/pod tree, on an empty cluster; one scheduling cycle",
        "simulated": True,
    }


def _environment() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }


def run(**kwargs: Any) -> dict[str, Any]:
    """Both benchmarks (entry point for ``stic bench``)."""
    throughput = run_throughput(**kwargs)
    gang = run_gang(nodes=throughput["nodes"], accelerators_per_node=throughput["accelerators_per_node"])
    return {**throughput, "gang_1024": gang}
