"""Cluster nodes and their accelerators, intra-node links and health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from scheduler.model.errors import ModelError


class Arch(StrEnum):
    """CPU architecture of a node."""

    X86_64 = "x86_64"
    ARM64 = "arm64"
    LOONGARCH64 = "loongarch64"

    @classmethod
    def from_machine(cls, machine: str) -> Arch:
        """Map ``platform.machine()`` output (``x86_64``, ``AMD64``, ``aarch64``, ``loongarch64``)."""
        value = machine.lower()
        aliases = {"amd64": cls.X86_64, "x86_64": cls.X86_64, "aarch64": cls.ARM64, "arm64": cls.ARM64}
        if value in aliases:
            return aliases[value]
        if value.startswith("loongarch"):
            return cls.LOONGARCH64
        raise ModelError("arch", f"unsupported machine architecture {machine!r}")


class Vendor(StrEnum):
    """Accelerator vendor."""

    NVIDIA = "nvidia"
    HUAWEI_ASCEND = "huawei-ascend"
    CAMBRICON = "cambricon"
    HYGON = "hygon"
    KUNLUNXIN = "kunlunxin"
    OTHER = "other"


class LinkKind(StrEnum):
    """Kind of intra-node accelerator interconnect."""

    NVLINK = "nvlink"
    HCCS = "hccs"
    MLU_LINK = "mlu-link"
    XGMI = "xgmi"
    PCIE_SWITCH = "pcie-switch"
    NUMA = "numa"


class HealthStatus(StrEnum):
    """Health of a node as reported by its probes."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class AcceleratorModel:
    """An accelerator product: vendor, model name, device memory and compute units (SMs, AI cores...)."""

    vendor: Vendor
    model: str
    memory_mib: int
    compute_units: int

    def __post_init__(self) -> None:
        if not self.model:
            raise ModelError("model", "must not be empty")
        if self.memory_mib < 0 or self.compute_units < 0:
            raise ModelError("memory_mib", "memory and compute units must be >= 0")

    def matches(self, constraint: str) -> bool:
        """True for ``"<model>"``, ``"<vendor>"`` or ``"<vendor>/<model>"`` naming this product."""
        return constraint in (self.model, self.vendor.value, f"{self.vendor.value}/{self.model}")


@dataclass(frozen=True, slots=True)
class Accelerator:
    """One device in a node: index on the node, product, NUMA node, health."""

    index: int
    model: AcceleratorModel
    numa_node: int = 0
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class LinkGroup:
    """Accelerators on a node joined by one interconnect (all pairs reach ``bandwidth_gbps``)."""

    kind: LinkKind
    members: tuple[int, ...]
    bandwidth_gbps: float


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """Health of a node. ``slowdown`` > 1 marks a node measured slower than its peers (stragglers);
    ``network_slow`` a node whose network was judged slow against the peers of its switch domain."""

    status: HealthStatus = HealthStatus.HEALTHY
    slowdown: float = 1.0
    reasons: tuple[str, ...] = ()
    network_slow: bool = False

    def __post_init__(self) -> None:
        if self.slowdown < 1.0:
            raise ModelError("health.slowdown", "must be >= 1.0")


@dataclass(frozen=True, slots=True)
class Node:
    """A schedulable machine. All accelerators of a node are one product (homogeneous servers)."""

    name: str
    cpu_milli: int
    memory_mib: int
    arch: Arch = Arch.X86_64
    accelerators: tuple[Accelerator, ...] = ()
    links: tuple[LinkGroup, ...] = ()
    health: NodeHealth = NodeHealth()
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.name:
            raise ModelError("node.name", "must not be empty")
        if self.cpu_milli <= 0 or self.memory_mib <= 0:
            raise ModelError(f"node[{self.name}].cpu_milli", "CPU and memory must be > 0")
        indices = [a.index for a in self.accelerators]
        if indices != list(range(len(indices))):
            raise ModelError(f"node[{self.name}].accelerators", "indices must be 0..n-1 in order")
        if len({a.model for a in self.accelerators}) > 1:
            raise ModelError(f"node[{self.name}].accelerators", "a node holds one accelerator product")
        for group in self.links:
            if any(m not in range(len(indices)) for m in group.members):
                raise ModelError(f"node[{self.name}].links", f"{group.kind} names an unknown accelerator")

    @property
    def accelerator_model(self) -> AcceleratorModel | None:
        """The node's accelerator product, or None for CPU-only nodes."""
        return self.accelerators[0].model if self.accelerators else None

    def link_bandwidth(self, a: int, b: int) -> float:
        """Best bandwidth (Gb/s) between two accelerators over any shared link group; 0 if none."""
        best = 0.0
        for group in self.links:
            if a in group.members and b in group.members and group.bandwidth_gbps > best:
                best = group.bandwidth_gbps
        return best
