"""The job spec accepted by the API and the CLI (JSON or YAML), and its mapping to the core model.

A spec names task groups (replicas of one command), the gang minimum, accelerator constraints
(several products allowed per group, several groups with different products per job),
exclusive or shared devices (share of compute in milli and memory in MiB), priority class,
preemptibility, a topology constraint, elastic minimums, a placement strategy (binpack or spread),
a node selector (labels every task's node must carry, Kubernetes ``nodeSelector`` semantics) and a
recovery policy.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, StringConstraints, ValidationError

from scheduler.model import (
    AcceleratorRequest,
    Arch,
    JobSpec,
    JobType,
    PlacementStrategy,
    SharingMode,
    TaskGroup,
    TopologyConstraint,
    TopologyMode,
    labels,
)
from scheduler.recovery.policy import PolicyKind, RecoveryPolicy, Scope
from services.kernel.types import FreeText, Name, ResourceId, StrictModel

Arg = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=4096)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=4096)]
TypeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,100}$")]


def _label_key(key: str) -> str:
    problem = labels.key_problem(key)
    if problem is not None:
        raise ValueError(f"not a Kubernetes label key: {problem}")
    return key


def _label_value(value: str) -> str:
    problem = labels.value_problem(value)
    if problem is not None:
        raise ValueError(f"not a Kubernetes label value: {problem}")
    return value


SelectorKey = Annotated[str, StringConstraints(max_length=317), AfterValidator(_label_key)]
SelectorValue = Annotated[str, StringConstraints(max_length=63), AfterValidator(_label_value)]
NodeSelector = Annotated[
    dict[SelectorKey, SelectorValue],
    Field(
        max_length=16,
        description="labels every task's node must carry (all pairs must match), e.g. "
        '{"stic.io/simulated": "false"} for real machines only',
    ),
]


class AcceleratorsIn(StrictModel):
    """Per replica: ``count`` whole devices (exclusive) or a share of one device (shared)."""

    count: Annotated[int, Field(ge=1, le=64)] = 1
    types: Annotated[list[TypeName], Field(max_length=16)] = Field(default_factory=list)
    mode: SharingMode = SharingMode.EXCLUSIVE
    compute_milli: Annotated[int, Field(ge=1, le=1000)] = 1000
    memory_mib: Annotated[int, Field(ge=0, le=2**40)] = 0


class GroupIn(StrictModel):
    """``replicas`` tasks running ``command``; ``min_replicas`` below ``replicas`` makes it elastic."""

    name: Name
    replicas: Annotated[int, Field(ge=1, le=4096)] = 1
    min_replicas: Annotated[int, Field(ge=0, le=4096)] | None = None
    cpu_milli: Annotated[int, Field(ge=0, le=2**40)] = 1000
    memory_mib: Annotated[int, Field(ge=0, le=2**40)] = 512
    accelerators: AcceleratorsIn | None = None
    architectures: Annotated[list[Arch], Field(max_length=3)] = Field(default_factory=list)
    command: Annotated[list[Arg], Field(min_length=1, max_length=256)]
    env: Annotated[dict[EnvName, EnvValue], Field(max_length=128)] = Field(default_factory=dict)


class TopologyIn(StrictModel):
    """Keep the job inside one domain of ``tier`` (required) or try to (preferred)."""

    tier: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    mode: TopologyMode = TopologyMode.REQUIRED


class RecoveryIn(StrictModel):
    """Fault tolerance: policy, retry limit, exponential backoff, hang and straggler detection."""

    policy: PolicyKind = PolicyKind.RESTART_IN_PLACE
    max_retries: Annotated[int, Field(ge=0, le=100)] = 3
    backoff_seconds: Annotated[float, Field(ge=0, le=3600)] = 1.0
    backoff_max_seconds: Annotated[float, Field(ge=0, le=86400)] = 60.0
    scope: Scope | None = Field(default=None, description="task or gang; default gang for train jobs")
    heartbeat_timeout_seconds: Annotated[float, Field(gt=0, le=86400)] | None = None
    straggler_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5
    reschedule_stragglers: bool = False


class JobCreate(StrictModel):
    """A job submission. ``start: false`` creates it held (``suspended``) until ``/start``."""

    name: Name
    project_id: ResourceId
    queue: Name = "default"
    type: JobType = JobType.BATCH
    description: FreeText = ""
    groups: Annotated[list[GroupIn], Field(min_length=1, max_length=32)]
    min_available: Annotated[int, Field(ge=1, le=2**20)] | None = None
    priority_class: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,30}$")] = "normal"
    priority: Annotated[int, Field(ge=-100_000, le=100_000)] | None = None
    preemptible: bool = True
    topology: TopologyIn | None = None
    placement: PlacementStrategy | None = Field(
        default=None, description="binpack or spread this job's tasks; default: the scheduler's policy"
    )
    node_selector: NodeSelector = Field(default_factory=dict)
    recovery: RecoveryIn = RecoveryIn()
    start: bool = True


def core_spec(data: dict[str, Any], *, job_id: str, queue: str, created_at: float) -> JobSpec:
    """The core :class:`JobSpec` of a stored spec (``JobCreate`` as JSON); ``queue`` is the core queue."""
    groups = []
    for g in data["groups"]:
        acc = g.get("accelerators")
        request = None
        if acc is not None:
            request = AcceleratorRequest(
                count=acc["count"],
                types=tuple(acc["types"]),
                mode=SharingMode(acc["mode"]),
                compute_milli=acc["compute_milli"],
                memory_mib=acc["memory_mib"],
            )
        groups.append(
            TaskGroup(
                name=g["name"],
                replicas=g["replicas"],
                cpu_milli=g["cpu_milli"],
                memory_mib=g["memory_mib"],
                accelerators=request,
                min_replicas=g.get("min_replicas"),
                architectures=tuple(Arch(a) for a in g["architectures"]),
            )
        )
    topo = data.get("topology")
    return JobSpec(
        id=job_id,
        queue=queue,
        groups=tuple(groups),
        type=JobType(data["type"]),
        min_available=data.get("min_available"),
        priority_class=data["priority_class"],
        priority=data.get("priority"),
        preemptible=data["preemptible"],
        topology=TopologyConstraint(topo["tier"], TopologyMode(topo["mode"])) if topo else None,
        created_at=created_at,
        placement=PlacementStrategy(data["placement"]) if data.get("placement") else None,
        node_selector=tuple(sorted((data.get("node_selector") or {}).items())),
    )


def recovery_policy(data: dict[str, Any]) -> RecoveryPolicy:
    """The recovery policy of a stored spec (gang scope by default for training jobs)."""
    r = data["recovery"]
    scope = r.get("scope") or (Scope.GANG if data["type"] == JobType.TRAIN.value else Scope.TASK)
    return RecoveryPolicy(
        kind=PolicyKind(r["policy"]),
        max_retries=r["max_retries"],
        backoff_s=r["backoff_seconds"],
        backoff_max_s=r["backoff_max_seconds"],
        scope=Scope(scope),
        heartbeat_timeout_s=r.get("heartbeat_timeout_seconds"),
        straggler_ratio=r["straggler_ratio"],
        reschedule_stragglers=r["reschedule_stragglers"],
    )


def task_names(data: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(task name, group, rank) for every replica, in the core's naming (``<group>-<replica>``)."""
    out = []
    rank = 0
    for g in data["groups"]:
        for r in range(g["replicas"]):
            out.append((f"{g['name']}-{r}", g["name"], rank))
            rank += 1
    return out


def parse_yaml(text: str, *, project_id: str | None = None) -> JobCreate:
    """A :class:`JobCreate` from YAML text; ``project_id`` fills a missing one. Raises ValueError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("a job file must hold a mapping")
    if project_id is not None:
        data.setdefault("project_id", project_id)
    try:
        return JobCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from exc
