"""Ready-made inventories: a simulated multi-vendor demo cluster and the local machine."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from scheduler.model.cluster import (
    Accelerator,
    AcceleratorModel,
    Arch,
    LinkGroup,
    LinkKind,
    Node,
    Vendor,
)
from scheduler.model.errors import ModelError
from scheduler.model.inventory import Inventory
from scheduler.model.topology import DEFAULT_TIERS, FabricKind, RdmaFabric, Topology, TopologyDomain

A100 = AcceleratorModel(Vendor.NVIDIA, "A100-SXM4-80GB", 81920, 108)
ASCEND_910B = AcceleratorModel(Vendor.HUAWEI_ASCEND, "Ascend910B", 65536, 24)
MLU370 = AcceleratorModel(Vendor.CAMBRICON, "MLU370-X8", 49152, 16)
DCU_Z100 = AcceleratorModel(Vendor.HYGON, "DCU-Z100L", 32768, 60)
KUNLUN_R200 = AcceleratorModel(Vendor.KUNLUNXIN, "R200", 32768, 8)


def _accelerators(model: AcceleratorModel, count: int) -> tuple[Accelerator, ...]:
    return tuple(Accelerator(i, model, numa_node=i * 2 // count) for i in range(count))


def _halves(kind: LinkKind, count: int, gbps: float) -> tuple[LinkGroup, ...]:
    half = count // 2
    return (LinkGroup(kind, tuple(range(half)), gbps), LinkGroup(kind, tuple(range(half, count)), gbps))


def demo_inventory() -> Inventory:
    """Six simulated nodes with NVIDIA, Ascend, Cambricon, Hygon and Kunlunxin devices on 2 leaves × 1 spine.

    Every node, link and the RoCE fabric are simulated; the inventory says so (``simulated=True``).
    """
    pcie = LinkKind.PCIE_SWITCH
    nodes = (
        Node(
            "demo-nv-0",
            128_000,
            1_048_576,
            Arch.X86_64,
            _accelerators(A100, 8),
            (LinkGroup(LinkKind.NVLINK, tuple(range(8)), 4800.0), *_halves(pcie, 8, 256.0)),
        ),
        Node(
            "demo-nv-1",
            128_000,
            1_048_576,
            Arch.X86_64,
            _accelerators(A100, 8),
            (LinkGroup(LinkKind.NVLINK, tuple(range(8)), 4800.0), *_halves(pcie, 8, 256.0)),
        ),
        Node(
            "demo-ascend-0",
            192_000,
            1_572_864,
            Arch.ARM64,
            _accelerators(ASCEND_910B, 8),
            _halves(LinkKind.HCCS, 8, 392.0),
        ),
        Node("demo-mlu-0", 64_000, 524_288, Arch.X86_64, _accelerators(MLU370, 4), _halves(pcie, 4, 256.0)),
        Node("demo-dcu-0", 64_000, 524_288, Arch.X86_64, _accelerators(DCU_Z100, 4), _halves(pcie, 4, 256.0)),
        Node(
            "demo-kunlun-0",
            64_000,
            262_144,
            Arch.LOONGARCH64,
            _accelerators(KUNLUN_R200, 2),
            (LinkGroup(pcie, (0, 1), 128.0),),
        ),
    )
    fabric = RdmaFabric(FabricKind.ROCE, 400.0, simulated=True)
    domains = {
        "demo-pod": TopologyDomain("demo-pod", "pod", None, fabric),
        "demo-spine": TopologyDomain("demo-spine", "spine", "demo-pod", fabric),
        "demo-leaf-a": TopologyDomain("demo-leaf-a", "leaf", "demo-spine", fabric),
        "demo-leaf-b": TopologyDomain("demo-leaf-b", "leaf", "demo-spine", fabric),
    }
    node_leaf = {n.name: ("demo-leaf-a" if i < 3 else "demo-leaf-b") for i, n in enumerate(nodes)}
    return Inventory(nodes, Topology(DEFAULT_TIERS, domains, node_leaf), simulated=True)


def read_meminfo_mib(path: Path = Path("/proc/meminfo")) -> int:
    """``MemTotal`` from a meminfo file, in MiB; raises ModelError if absent or malformed."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemTotal:"):
                parts = line.split()
                if len(parts) >= 3 and parts[2].lower() == "kb":
                    return int(parts[1]) // 1024
    except OSError as exc:
        raise ModelError("memory", f"cannot read {path}: {exc}") from exc
    raise ModelError("memory", f"no MemTotal line in {path}")


def local_node(*, meminfo: Path = Path("/proc/meminfo"), name: str | None = None) -> Node:
    """This machine as a real node: CPU count, MemTotal, architecture; no accelerators."""
    cpus = os.cpu_count() or 1
    return Node(
        name or platform.node() or "localhost",
        cpus * 1000,
        read_meminfo_mib(meminfo),
        Arch.from_machine(platform.machine()),
    )


def local_inventory(*, meminfo: Path = Path("/proc/meminfo")) -> Inventory:
    """An inventory holding only :func:`local_node` on a flat topology; not simulated."""
    node = local_node(meminfo=meminfo)
    return Inventory((node,), Topology.flat([node.name]), simulated=False)


__all__ = ["demo_inventory", "local_inventory", "local_node", "read_meminfo_mib"]
