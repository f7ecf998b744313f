"""Job specifications: task groups, gang minimum, accelerator constraints, priority, topology, elasticity."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from scheduler.model import labels
from scheduler.model.cluster import AcceleratorModel, Arch
from scheduler.model.errors import ModelError


class JobType(StrEnum):
    """Workload kind."""

    TRAIN = "train"
    INFERENCE = "inference"
    NOTEBOOK = "notebook"
    BATCH = "batch"


class SharingMode(StrEnum):
    """Whether a task owns whole accelerators or a fraction of one."""

    EXCLUSIVE = "exclusive"
    SHARED = "shared"


class TopologyMode(StrEnum):
    """Whether a topology constraint must hold (required) or is a preference."""

    REQUIRED = "required"
    PREFERRED = "preferred"


class PlacementStrategy(StrEnum):
    """How a job asks its tasks to be spread over nodes, overriding the configured default."""

    BINPACK = "binpack"
    SPREAD = "spread"


PRIORITY_CLASSES: dict[str, int] = {
    "system-critical": 1000,
    "high": 100,
    "normal": 0,
    "low": -100,
    "best-effort": -1000,
}
"""Priority classes and their numeric priority (higher runs first and may preempt lower)."""


class JobSpecError(ModelError):
    """A job spec is invalid; ``field`` names the offending field (e.g. ``groups[0].accelerators.types``)."""


@dataclass(frozen=True, slots=True)
class AcceleratorRequest:
    """Accelerators per replica.

    Exclusive: ``count`` whole devices. Shared: one device, ``compute_milli`` (< 1000) of its compute
    and ``memory_mib`` of its memory. ``types`` lists acceptable products as ``model``, ``vendor`` or
    ``vendor/model``; empty means any.
    """

    count: int = 1
    types: tuple[str, ...] = ()
    mode: SharingMode = SharingMode.EXCLUSIVE
    compute_milli: int = 1000
    memory_mib: int = 0

    @property
    def milli(self) -> int:
        """Accelerator demand in milli-devices."""
        return self.count * 1000 if self.mode is SharingMode.EXCLUSIVE else self.compute_milli


@dataclass(frozen=True, slots=True)
class TaskGroup:
    """``replicas`` identical tasks; ``min_replicas`` < ``replicas`` makes the group elastic."""

    name: str
    replicas: int
    cpu_milli: int
    memory_mib: int
    accelerators: AcceleratorRequest | None = None
    min_replicas: int | None = None
    architectures: tuple[Arch, ...] = ()

    @property
    def minimum(self) -> int:
        """Replicas that must run for the group to be useful."""
        return self.replicas if self.min_replicas is None else self.min_replicas


@dataclass(frozen=True, slots=True)
class TopologyConstraint:
    """Keep all tasks of the job inside one domain of ``tier`` (required) or try to (preferred)."""

    tier: str
    mode: TopologyMode = TopologyMode.REQUIRED


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job as submitted. ``min_available`` is the gang minimum (default: sum of group minimums);
    ``placement`` picks binpack or spread for this job (None: the scheduler configuration decides);
    ``node_selector`` holds ``(label, value)`` pairs every task's node must carry (Kubernetes
    ``nodeSelector``: all pairs must match; empty: any node)."""

    id: str
    queue: str
    groups: tuple[TaskGroup, ...]
    type: JobType = JobType.BATCH
    min_available: int | None = None
    priority_class: str = "normal"
    priority: int | None = None
    preemptible: bool = True
    topology: TopologyConstraint | None = None
    created_at: float = 0.0
    placement: PlacementStrategy | None = None
    node_selector: tuple[tuple[str, str], ...] = ()

    @property
    def effective_priority(self) -> int:
        """Explicit ``priority`` if set, otherwise the value of ``priority_class``."""
        return self.priority if self.priority is not None else PRIORITY_CLASSES.get(self.priority_class, 0)

    @property
    def gang_minimum(self) -> int:
        """Tasks that must be placed together for the job to start."""
        if self.min_available is not None:
            return self.min_available
        return sum(g.minimum for g in self.groups)

    @property
    def total_replicas(self) -> int:
        """Maximum number of tasks."""
        return sum(g.replicas for g in self.groups)


def _check_group(i: int, group: TaskGroup, models: Collection[AcceleratorModel]) -> None:
    f = f"groups[{i}]"
    if not group.name:
        raise JobSpecError(f"{f}.name", "must not be empty")
    if group.replicas < 1:
        raise JobSpecError(f"{f}.replicas", "must be >= 1")
    if group.min_replicas is not None and not 0 <= group.min_replicas <= group.replicas:
        raise JobSpecError(f"{f}.min_replicas", f"must be between 0 and replicas ({group.replicas})")
    if group.cpu_milli < 0 or group.memory_mib < 0:
        raise JobSpecError(f"{f}.cpu_milli", "CPU and memory must be >= 0")
    req = group.accelerators
    if req is None:
        return
    if req.mode is SharingMode.EXCLUSIVE:
        if req.count < 1:
            raise JobSpecError(f"{f}.accelerators.count", "must be >= 1")
        if req.compute_milli != 1000:
            raise JobSpecError(f"{f}.accelerators.compute_milli", "exclusive devices take the whole compute")
    else:
        if req.count != 1:
            raise JobSpecError(f"{f}.accelerators.count", "a shared request takes a fraction of one device")
        if not 0 < req.compute_milli < 1000:
            raise JobSpecError(f"{f}.accelerators.compute_milli", "must be between 1 and 999")
        if req.memory_mib < 0:
            raise JobSpecError(f"{f}.accelerators.memory_mib", "must be >= 0")
    for j, constraint in enumerate(req.types):
        matching = [m for m in models if m.matches(constraint)]
        if not matching:
            known = sorted({m.model for m in models})
            raise JobSpecError(
                f"{f}.accelerators.types[{j}]", f"unknown accelerator type {constraint!r}; known: {known}"
            )
        if req.mode is SharingMode.SHARED and req.memory_mib > max(m.memory_mib for m in matching):
            raise JobSpecError(f"{f}.accelerators.memory_mib", "exceeds the memory of every matching device")


def validate_job(
    spec: JobSpec,
    *,
    accelerator_models: Collection[AcceleratorModel],
    tiers: Iterable[str],
    queues: Collection[str],
    leaf_queues: Collection[str] | None = None,
) -> None:
    """Raise :class:`JobSpecError` naming the first invalid field; return None when the spec is valid.

    Checks: identity, queue exists (and is a leaf), groups are well formed, accelerator types exist
    in ``accelerator_models``, gang minimum within replicas, topology tier exists and is a switch tier,
    priority class is known, node selector keys and values follow Kubernetes label syntax.
    """
    if not spec.id:
        raise JobSpecError("id", "must not be empty")
    if spec.queue not in queues:
        raise JobSpecError("queue", f"unknown queue {spec.queue!r}")
    if leaf_queues is not None and spec.queue not in leaf_queues:
        raise JobSpecError("queue", f"{spec.queue!r} has child queues; submit to a leaf queue")
    if not spec.groups:
        raise JobSpecError("groups", "a job needs at least one task group")
    names = [g.name for g in spec.groups]
    if len(set(names)) != len(names):
        raise JobSpecError("groups", "task group names must be unique")
    for i, group in enumerate(spec.groups):
        _check_group(i, group, accelerator_models)
    if spec.min_available is not None and not 1 <= spec.min_available <= spec.total_replicas:
        raise JobSpecError(
            "min_available",
            f"gang minimum {spec.min_available} must be between 1 and replicas ({spec.total_replicas})",
        )
    if spec.priority is None and spec.priority_class not in PRIORITY_CLASSES:
        raise JobSpecError(
            "priority_class", f"unknown class {spec.priority_class!r}; known: {list(PRIORITY_CLASSES)}"
        )
    if spec.topology is not None:
        tier_list = list(tiers)
        if spec.topology.tier not in tier_list:
            raise JobSpecError("topology.tier", f"unknown tier {spec.topology.tier!r}; known: {tier_list}")
    _check_selector(spec.node_selector)


def _check_selector(selector: tuple[tuple[str, str], ...]) -> None:
    keys = [k for k, _ in selector]
    if len(set(keys)) != len(keys):
        raise JobSpecError("node_selector", "a label may appear only once")
    for key, value in selector:
        problem = labels.key_problem(key) or labels.value_problem(value)
        if problem is not None:
            raise JobSpecError(f"node_selector.{key}", problem)
