"""Request and response bodies of the inventory, topology and queue APIs.

Resource vectors of queues are ``{"cpu": milli-cores, "memory": MiB, "accelerators": milli-devices}``
(the scheduling core's units: half a device is 500).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from scheduler.model import labels as node_labels
from scheduler.model.cluster import Arch, HealthStatus, LinkKind, Vendor
from scheduler.model.topology import FabricKind
from services.kernel.types import FreeText, Name, ResourceId, ResponseModel, StrictModel

if TYPE_CHECKING:
    from scheduler.service.jobs import JobView

BigInt = Annotated[int, Field(ge=0, le=2**53)]
Positive = Annotated[int, Field(ge=1, le=2**53)]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]


def _not_reserved(key: str) -> str:
    if node_labels.is_reserved(key):
        raise ValueError(f"labels under {node_labels.RESERVED_PREFIX} are set by the platform and read-only")
    return key


LabelKey = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$"), AfterValidator(_not_reserved)
]
Tier = Literal["leaf", "spine", "pod"]


class AcceleratorSpec(StrictModel):
    """``count`` identical devices of one product on a node."""

    vendor: Vendor
    model: ModelName
    memory_mib: Positive
    compute_units: Annotated[int, Field(ge=1, le=100_000)]
    count: Annotated[int, Field(ge=1, le=64)]
    numa_nodes: Annotated[int, Field(ge=1, le=16)] = 1
    unhealthy: Annotated[list[Annotated[int, Field(ge=0, le=63)]], Field(max_length=64)] = Field(
        default_factory=list
    )


class LinkSpec(StrictModel):
    """Devices joined by one interconnect (NVLink, HCCS, PCIe switch, NUMA)."""

    kind: LinkKind
    members: Annotated[list[Annotated[int, Field(ge=0, le=63)]], Field(min_length=2, max_length=64)]
    bandwidth_gbps: Annotated[float, Field(gt=0, le=1e6)]


class NodeCreate(StrictModel):
    """Register a node under a leaf domain. ``simulated`` must be stated: is this real hardware?"""

    name: Name
    cpu_milli: Positive
    memory_mib: Positive
    arch: Arch = Arch.X86_64
    accelerators: AcceleratorSpec | None = None
    links: Annotated[list[LinkSpec], Field(max_length=64)] = Field(default_factory=list)
    labels: Annotated[dict[LabelKey, FreeText], Field(max_length=32)] = Field(default_factory=dict)
    leaf: Name
    simulated: bool


class NodeLabelsPatch(StrictModel):
    """Change a node's own labels (``kubectl label`` semantics): a string sets the label, ``null``
    removes it, labels not named stay. Keys under ``stic.io/`` are the platform's and refused."""

    labels: Annotated[dict[LabelKey, FreeText | None], Field(min_length=1, max_length=32)]


class NodeReason(StrictModel):
    """Why a node is cordoned or drained."""

    reason: Annotated[FreeText, StringConstraints(max_length=200)] = ""


DeviceIndex = Annotated[int, Field(ge=0, le=63)]


class NetworkFigures(StrictModel):
    """Network figures a node agent measured (6.2.3.3 d), judged against its leaf domain's peers.

    ``rtt_us``: median round-trip time to its leaf peers (or the domain's reference host), in
    microseconds; ``bandwidth_gbps``: achieved throughput in Gb/s; ``retransmit_ratio``: TCP
    retransmitted / sent segments (or RDMA errored / sent operations) since the last report, 0..1.
    """

    rtt_us: Annotated[float, Field(ge=0.1, le=10_000_000.0)]
    bandwidth_gbps: Annotated[float, Field(gt=0, le=100_000.0)] | None = None
    retransmit_ratio: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    method: Annotated[FreeText, StringConstraints(max_length=200)] = ""


class AcceleratorError(StrictModel):
    """A device the agent sees but that reported a fatal error (its work is lost)."""

    index: DeviceIndex
    kind: Literal["ecc_uncorrectable", "xid", "fell_off_bus", "other"]
    detail: Annotated[FreeText, StringConstraints(max_length=200)] = ""


class NodeHealthSet(StrictModel):
    """Health reported by a node agent (heartbeat): status, measured slowdown, network, devices.

    ``network`` (optional) carries measured network figures; ``visible_accelerators`` (optional)
    lists the device indices the agent can see: a device of the node missing from it is marked lost,
    as is every device named in ``accelerator_errors``. Leaving a field out reports nothing about it.
    """

    status: HealthStatus = HealthStatus.HEALTHY
    slowdown: Annotated[float, Field(ge=1.0, le=1000.0)] = 1.0
    reasons: Annotated[list[FreeText], Field(max_length=8)] = Field(default_factory=list)
    network: NetworkFigures | None = None
    visible_accelerators: Annotated[list[DeviceIndex], Field(max_length=64)] | None = None
    accelerator_errors: Annotated[list[AcceleratorError], Field(max_length=64)] = Field(default_factory=list)


class LostAcceleratorOut(ResponseModel):
    """A device the node agent reported lost; ``seen_again`` once a later heartbeat sees it healthy."""

    index: int
    reason: str
    since: datetime
    seen_again: bool


class NetworkOut(ResponseModel):
    """The node's latest network figures and the verdict against its domain's peers."""

    rtt_us: float | None = None
    bandwidth_gbps: float | None = None
    retransmit_ratio: float | None = None
    method: str = ""
    reported_at: datetime | None = None
    judged: bool = False
    slow: bool = False
    verdict: str = ""


class NodeOut(ResponseModel):
    """A node as the scheduler sees it; ``simulated`` says whether it is real hardware.

    ``labels`` include the platform's read-only labels (``stic.io/simulated`` ``"true"``/``"false"``,
    ``stic.io/hostname``, ``stic.io/arch``), which jobs can select on like any other.

    ``health`` reads ``degraded`` (with the reasons in ``health_reasons``) when the agent reports a
    healthy node that is network-slow or lost an accelerator.
    """

    id: str
    name: str
    cpu_milli: int
    memory_mib: int
    arch: str
    accelerators: dict[str, object] | None
    links: list[dict[str, object]]
    labels: dict[str, str]
    leaf: str
    health: str
    slowdown: float
    health_reasons: list[str]
    cordoned: bool
    cordon_reason: str
    simulated: bool
    local: bool
    heartbeat_at: datetime | None
    network: NetworkOut = Field(default_factory=NetworkOut)
    lost_accelerators: list[LostAcceleratorOut] = Field(default_factory=list)
    allocated: dict[str, int] = Field(default_factory=dict)
    tasks: int = 0
    created_at: datetime


class NodeEventOut(ResponseModel):
    """One event of a node."""

    node: str
    time: datetime
    kind: str
    message: str


class DomainCreate(StrictModel):
    """A switch domain; ``parent`` is a domain one tier up (none for a pod)."""

    tier: Tier
    parent: Name | None = None
    fabric_kind: FabricKind = FabricKind.ROCE
    bandwidth_gbps: Annotated[float, Field(gt=0, le=1e6)] = 200.0
    simulated: bool = True


class DomainOut(ResponseModel):
    """A switch domain with its fabric."""

    name: str
    tier: str
    parent: str | None
    fabric_kind: str
    bandwidth_gbps: float
    simulated: bool


class TopologyOut(StrictModel):
    """The network tree: tiers from ``node`` up, domains, each node's leaf; ``simulated`` if any part is."""

    tiers: list[str]
    domains: list[DomainOut]
    nodes: dict[str, str]
    simulated: bool


class ResourceVector(StrictModel):
    """CPU milli-cores, memory MiB, accelerators in milli-devices (1000 = one device).

    A resource left out is not limited by this vector (0 in a guarantee).
    """

    cpu: BigInt | None = None
    memory: BigInt | None = None
    accelerators: BigInt | None = None


class QueueCreate(StrictModel):
    """A queue tied to a quota scope. A limit left out means "no limit at this queue"."""

    name: Name
    parent_id: ResourceId | None = None
    scope_type: Literal["tenant", "department", "project"] = "tenant"
    scope_id: ResourceId | None = Field(default=None, description="department or project id")
    priority: Annotated[int, Field(ge=-10_000, le=10_000)] = 0
    guarantee: ResourceVector = ResourceVector()
    deserved: ResourceVector | None = None
    cap: ResourceVector | None = None
    borrowing_limit: ResourceVector | None = None
    lending_limit: ResourceVector | None = None
    reclaimable: bool = True


class QueueUpdate(StrictModel):
    """Change a queue's share, limits or priority (omitted fields stay)."""

    priority: Annotated[int, Field(ge=-10_000, le=10_000)] | None = None
    guarantee: ResourceVector | None = None
    deserved: ResourceVector | None = None
    cap: ResourceVector | None = None
    borrowing_limit: ResourceVector | None = None
    lending_limit: ResourceVector | None = None
    reclaimable: bool | None = None


class QueueOut(ResponseModel):
    """A queue with its limits and what its jobs hold now."""

    id: str
    tenant_id: str
    name: str
    parent_id: str | None
    scope_type: str
    scope_id: str
    priority: int
    guarantee: dict[str, int | None]
    deserved: dict[str, int | None] | None
    cap: dict[str, int | None] | None
    borrowing_limit: dict[str, int | None] | None
    lending_limit: dict[str, int | None] | None
    reclaimable: bool
    allocated: dict[str, int] = Field(default_factory=dict)
    created_at: datetime


class TaskOut(ResponseModel):
    """One task: placement (``simulated`` when its node is), attempt, exit code, liveness."""

    name: str
    group: str
    rank: int
    state: str
    node: str | None
    devices: list[int]
    accel_milli: int
    accel_memory_mib: int
    simulated: bool
    attempt: int
    exit_code: int | None
    failure: str
    heartbeat_at: datetime | None
    progress: float | None
    started_at: datetime | None
    finished_at: datetime | None


class JobOut(StrictModel):
    """A job: state, why it waits (each plugin's reasons), retries, nodes it avoids, and tasks."""

    id: str
    tenant_id: str
    project_id: str
    name: str
    type: str
    queue: str
    queue_id: str
    state: str
    reasons: list[str]
    unschedulable: bool
    retries: int
    avoid_nodes: list[str]
    simulated: bool
    spec: dict[str, object]
    tasks: list[TaskOut]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, view: JobView) -> JobOut:
        """Build from a :class:`scheduler.service.jobs.JobView`."""
        job = view.job
        tasks = [TaskOut.model_validate(t) for t in view.tasks]
        return cls(
            id=job.id,
            tenant_id=job.tenant_id,
            project_id=job.project_id,
            name=job.name,
            type=job.type,
            queue=view.queue,
            queue_id=job.queue_id,
            state=job.state,
            reasons=list(job.reasons),
            unschedulable=job.state == "unschedulable",
            retries=job.retries,
            avoid_nodes=list(job.avoid_nodes or []),
            simulated=any(t.simulated for t in tasks),
            spec=dict(job.spec),
            tasks=tasks,
            created_at=job.created_at,
            updated_at=job.updated_at,
            finished_at=job.finished_at,
        )


class JobEventOut(ResponseModel):
    """One event of a job."""

    time: datetime
    kind: str
    source: str | None
    target: str | None
    task: str | None
    message: str


class TaskLogsOut(StrictModel):
    """The end of one task attempt's output."""

    task: str
    attempt: int
    content: str


class TaskMetricsOut(StrictModel):
    """Resource use and progress of one task's latest attempt."""

    task: str
    attempt: int
    state: str
    node: str | None
    cpu_seconds: float | None
    rss_mib: float | None
    runtime_s: float | None
    progress: float | None
    heartbeat_at: datetime | None


class JobMetricsOut(StrictModel):
    """Resource use of a job's tasks."""

    job_id: str
    state: str
    retries: int
    cpu_seconds: float
    tasks: list[TaskMetricsOut]
