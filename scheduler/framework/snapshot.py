"""Per-cycle cluster snapshot with the indexes that keep candidate search fast.

A :class:`Snapshot` holds node, job and queue state for one cycle. The cycle mutates it as
statements allocate and evict (so later decisions see earlier ones); callers that need the
pre-cycle state build a new snapshot. A caller that is the only writer of cluster state (the
simulator) may keep one snapshot across cycles and apply completions with :meth:`Snapshot.finish_job`.

``Node.path`` is ``(node name, leaf, spine, pod)``: index ``i`` is the domain at ``tiers[i]``.

Indexes, all maintained incrementally on :meth:`bind` / :meth:`unbind`:

* ``buckets``: ``(accelerator model, free whole devices, best partial free // 100)`` → sorted node
  positions. Candidate search visits only buckets that can hold the task.
* ``domain_free``: domain → model → free whole devices in the domain, for network topology.
* per-queue and per-job allocated vectors, for capacity and DRF.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from scheduler.model.cluster import Arch, Node
from scheduler.model.errors import ModelError
from scheduler.model.inventory import Inventory
from scheduler.model.job import JobSpec, SharingMode
from scheduler.model.queue import QueueTree
from scheduler.model.state import TERMINAL, JobState

BucketKey = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class WorkloadClass:
    """A kind of task in the expected workload (FGD's task distribution): demand and popularity."""

    count: int
    milli: int
    cpu_milli: int
    memory_mib: int
    weight: float


FULL = 1000


@dataclass(frozen=True, slots=True)
class Binding:
    """Where an already placed task runs (input to a snapshot)."""

    node: str
    devices: tuple[int, ...] = ()


@dataclass(frozen=True)
class JobRecord:
    """A job as the store knows it: spec, state and bindings of its placed tasks (by task name).

    ``avoid_nodes`` are nodes where the job's tasks failed and were rescheduled away from; the
    health plugin keeps the job's tasks off them.
    """

    spec: JobSpec
    state: JobState = JobState.PENDING
    bindings: Mapping[str, Binding] = field(default_factory=dict)
    avoid_nodes: frozenset[str] = frozenset()


class TaskInfo:
    """One replica of a task group. ``node`` is None while pending."""

    __slots__ = (
        "acc_count",
        "acc_mem",
        "acc_milli",
        "archs",
        "cpu",
        "devices",
        "essential",
        "group",
        "job",
        "mem",
        "models",
        "name",
        "node",
        "selector",
        "shared",
    )

    def __init__(
        self, job: JobInfo, group_index: int, replica: int, essential: bool, models: frozenset[str] | None
    ):
        group = job.spec.groups[group_index]
        req = group.accelerators
        self.job = job
        self.group = group.name
        self.name = f"{group.name}-{replica}"
        self.essential = essential
        self.cpu = group.cpu_milli
        self.mem = group.memory_mib
        self.archs: frozenset[Arch] | None = frozenset(group.architectures) or None
        self.models = models
        self.selector = job.spec.node_selector  # every task of a gang obeys the job's selector
        if req is None:
            self.acc_count, self.acc_milli, self.acc_mem, self.shared = 0, 0, 0, False
        elif req.mode is SharingMode.SHARED:
            self.acc_count, self.acc_milli, self.acc_mem, self.shared = (
                1,
                req.compute_milli,
                req.memory_mib,
                True,
            )
        else:
            self.acc_count, self.acc_milli, self.acc_mem, self.shared = req.count, FULL, 0, False
        self.node: NodeState | None = None
        self.devices: tuple[int, ...] = ()

    @property
    def accel_demand(self) -> int:
        """Milli-accelerators this task takes."""
        return self.acc_count * self.acc_milli

    def __repr__(self) -> str:
        return f"TaskInfo({self.job.id}/{self.name} on {self.node.name if self.node else None})"


class JobInfo:
    """A job in the snapshot: tasks (gang-essential ones first), state, allocation."""

    __slots__ = (
        "alloc",
        "attempt_gen",
        "avoid_nodes",
        "created_at",
        "id",
        "min_available",
        "placed",
        "preemptible",
        "priority",
        "queue",
        "spec",
        "state",
        "tasks",
    )

    def __init__(self, spec: JobSpec, state: JobState, models_for: Mapping[int, frozenset[str] | None]):
        self.spec = spec
        self.id = spec.id
        self.queue = spec.queue
        self.state = state
        self.priority = spec.effective_priority
        self.preemptible = spec.preemptible
        self.created_at = spec.created_at
        self.min_available = spec.gang_minimum
        self.alloc = [0, 0, 0]
        self.placed = 0
        self.attempt_gen = -1  # snapshot release generation of the last failed allocation attempt
        self.avoid_nodes: frozenset[str] = frozenset()
        essential: list[TaskInfo] = []
        extra: list[TaskInfo] = []
        budget = self.min_available
        for gi, group in enumerate(spec.groups):
            for r in range(group.replicas):
                is_essential = r < group.minimum and budget > 0
                if is_essential:
                    budget -= 1
                (essential if is_essential else extra).append(
                    TaskInfo(self, gi, r, is_essential, models_for[gi])
                )
        self.tasks: list[TaskInfo] = essential + extra

    @property
    def ready(self) -> bool:
        """True once at least ``min_available`` tasks are placed."""
        return self.placed >= self.min_available

    def unplaced(self) -> list[TaskInfo]:
        """Tasks without a node, in placement order."""
        return [t for t in self.tasks if t.node is None]

    def min_request(self) -> tuple[int, int, int]:
        """CPU, memory and milli-accelerators of the gang-essential tasks."""
        cpu = mem = acc = 0
        for t in self.tasks[: self.min_available]:
            cpu += t.cpu
            mem += t.mem
            acc += t.accel_demand
        return cpu, mem, acc


class QueueInfo:
    """Live usage of a queue (including its descendants)."""

    __slots__ = ("alloc", "name", "preemptible_tasks", "spec")

    def __init__(self, name: str, spec: object) -> None:
        self.name = name
        self.spec = spec
        self.alloc = [0, 0, 0]
        self.preemptible_tasks: dict[TaskInfo, None] = {}


class NodeState:
    """Free capacity of one node; unhealthy devices are never free. ``labels`` are the node's labels."""

    __slots__ = (
        "acc_free",
        "acc_mem_free",
        "acc_mem_total",
        "arch",
        "cpu_free",
        "cpu_total",
        "free_whole",
        "healthy",
        "key",
        "labels",
        "mem_free",
        "mem_total",
        "model",
        "n_acc",
        "name",
        "path",
        "pos",
        "slowdown",
        "spec",
        "tasks",
    )

    def __init__(self, pos: int, spec: Node, path: tuple[str, ...]) -> None:
        model = spec.accelerator_model
        self.pos = pos
        self.spec = spec
        self.name = spec.name
        self.model = model.model if model else ""
        self.arch = spec.arch
        self.labels = spec.labels
        self.cpu_total = self.cpu_free = spec.cpu_milli
        self.mem_total = self.mem_free = spec.memory_mib
        self.n_acc = len(spec.accelerators)
        self.acc_free = [FULL if a.healthy else 0 for a in spec.accelerators]
        self.acc_mem_total = model.memory_mib if model else 0
        self.acc_mem_free = [self.acc_mem_total if a.healthy else 0 for a in spec.accelerators]
        self.healthy = spec.health.status.value != "unhealthy"
        self.slowdown = spec.health.slowdown
        self.path = path
        self.tasks: dict[TaskInfo, None] = {}
        self.free_whole = 0
        self.key: BucketKey = ("", 0, 0)
        self._rekey()

    def _rekey(self) -> None:
        whole = 0
        partial = 0
        for free in self.acc_free:
            if free == FULL:
                whole += 1
            elif free > partial:
                partial = free
        self.free_whole = whole
        self.key = (self.model, whole, partial // 100)

    def best_partial(self) -> int:
        """Largest free share on a device that is partly used (0 when none)."""
        return max((f for f in self.acc_free if f < FULL), default=0)


def bucket_matches(key: BucketKey, task: TaskInfo) -> bool:
    """Whether nodes in a bucket may hold ``task`` (exact checks are the predicates' job)."""
    model, whole, partial = key
    if task.acc_count == 0:
        return True
    if not model or (task.models is not None and model not in task.models):
        return False
    if task.shared:
        return whole > 0 or partial >= task.acc_milli // 100
    return whole >= task.acc_count


class Snapshot:
    """Nodes, queues and jobs for one scheduling cycle, with incremental indexes (see module docs)."""

    def __init__(self, inventory: Inventory, queues: QueueTree, jobs: Iterable[JobRecord] = ()) -> None:
        self.inventory = inventory
        self.queue_tree = queues
        topo = inventory.topology
        self.tiers = topo.tiers
        self.nodes = [NodeState(i, n, (n.name, *topo.paths[n.name])) for i, n in enumerate(inventory.nodes)]
        self.by_name = {n.name: n for n in self.nodes}
        self.models = inventory.accelerator_models()
        self.buckets: dict[BucketKey, list[int]] = {}
        self.domain_nodes: dict[str, list[int]] = {}
        self.domain_free: dict[str, dict[str, int]] = {}
        self.domain_total: dict[str, dict[str, int]] = {}
        self.domains_at: list[list[str]] = [[] for _ in self.tiers]
        for node in self.nodes:
            self.buckets.setdefault(node.key, []).append(node.pos)
            for level, dom in enumerate(node.path):
                if dom not in self.domain_nodes:
                    self.domains_at[level].append(dom)
                    self.domain_free[dom] = {}
                    self.domain_total[dom] = {}
                self.domain_nodes.setdefault(dom, []).append(node.pos)
                if node.model:
                    free = self.domain_free[dom]
                    free[node.model] = free.get(node.model, 0) + node.free_whole
                    total = self.domain_total[dom]
                    total[node.model] = total.get(node.model, 0) + node.free_whole
        self.total = [
            sum(n.cpu_total for n in self.nodes),
            sum(n.mem_total for n in self.nodes),
            sum(sum(n.acc_free) for n in self.nodes),
        ]
        self.max_devices = max((n.n_acc for n in self.nodes), default=0)
        self.queues: dict[str, QueueInfo] = {name: QueueInfo(name, q) for name, q in queues.queues.items()}
        self.jobs: dict[str, JobInfo] = {}
        self.waiting: dict[str, JobInfo] = {}  # jobs with unplaced tasks, in arrival order
        self.used = [0, 0, 0]
        self.release_gen = 0
        self.workload_profile: tuple[WorkloadClass, ...] | None = None
        self._classes: list[NodeState] | None = None
        self._model_cache: dict[tuple[str, ...], frozenset[str] | None] = {}
        for record in jobs:
            self.add_job(record)

    # ---------------------------------------------------------------- jobs
    def _models_for(self, types: tuple[str, ...]) -> frozenset[str] | None:
        if not types:
            return None
        cached = self._model_cache.get(types)
        if cached is None:
            cached = frozenset(m.model for m in self.models.values() if any(m.matches(t) for t in types))
            self._model_cache[types] = cached
        return cached

    def add_job(self, record: JobRecord) -> JobInfo:
        """Add a job and bind its already placed tasks; raises ModelError for bad bindings."""
        spec = record.spec
        if spec.id in self.jobs:
            raise ModelError(f"job[{spec.id}]", "duplicate job id")
        if spec.queue not in self.queues:
            raise ModelError(f"job[{spec.id}].queue", f"unknown queue {spec.queue!r}")
        models = {
            i: self._models_for(g.accelerators.types if g.accelerators else ())
            for i, g in enumerate(spec.groups)
        }
        job = JobInfo(spec, record.state, models)
        job.avoid_nodes = record.avoid_nodes
        self.jobs[job.id] = job
        self.waiting[job.id] = job
        if record.bindings:
            by_name = {t.name: t for t in job.tasks}
            for task_name, binding in record.bindings.items():
                task = by_name.get(task_name)
                if task is None:
                    raise ModelError(f"job[{spec.id}].bindings[{task_name}]", "no such task")
                node = self.by_name.get(binding.node)
                if node is None:
                    raise ModelError(
                        f"job[{spec.id}].bindings[{task_name}].node", f"unknown node {binding.node!r}"
                    )
                self.bind(task, node, binding.devices)
        return job

    def finish_job(self, job_id: str) -> JobInfo:
        """Release every task of a job and drop it (completion, failure, cancellation)."""
        job = self.jobs.pop(job_id)
        self.waiting.pop(job_id, None)
        for task in job.tasks:
            if task.node is not None:
                self.unbind(task)
        return job

    def active_jobs(self) -> list[JobInfo]:
        """Jobs that are not terminal, in insertion order."""
        return [j for j in self.jobs.values() if j.state not in TERMINAL]

    # -------------------------------------------------------------- binding
    def _move(self, node: NodeState, old_key: BucketKey, old_whole: int) -> None:
        if node.key != old_key:
            old = self.buckets[old_key]
            del old[bisect.bisect_left(old, node.pos)]
            if not old:
                del self.buckets[old_key]
            bisect.insort(self.buckets.setdefault(node.key, []), node.pos)
        if node.model and node.free_whole != old_whole:
            delta = node.free_whole - old_whole
            for dom in node.path:
                self.domain_free[dom][node.model] += delta

    def bind(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> None:
        """Place ``task`` on ``node`` using ``devices``; raises ModelError if it does not fit."""
        if task.node is not None:
            raise ModelError(f"task[{task.job.id}/{task.name}]", "already bound")
        if len(devices) != task.acc_count:
            raise ModelError(f"task[{task.job.id}/{task.name}].devices", f"needs {task.acc_count} devices")
        if task.cpu > node.cpu_free or task.mem > node.mem_free:
            raise ModelError(f"task[{task.job.id}/{task.name}]", f"does not fit node {node.name}")
        for d in devices:
            if not 0 <= d < node.n_acc or node.acc_free[d] < task.acc_milli:
                raise ModelError(
                    f"task[{task.job.id}/{task.name}].devices", f"device {d} of {node.name} busy"
                )
        old_key, old_whole = node.key, node.free_whole
        node.cpu_free -= task.cpu
        node.mem_free -= task.mem
        acc_mem = task.acc_mem if task.shared else node.acc_mem_total
        for d in devices:
            node.acc_free[d] -= task.acc_milli
            node.acc_mem_free[d] -= acc_mem
        node._rekey()
        self._move(node, old_key, old_whole)
        node.tasks[task] = None
        task.node = node
        task.devices = devices
        self._account(task, 1)

    def unbind(self, task: TaskInfo, *, rollback: bool = False) -> None:
        """Release ``task``'s resources. ``rollback`` (statement discard) does not count as a release."""
        node = task.node
        if node is None:
            raise ModelError(f"task[{task.job.id}/{task.name}]", "not bound")
        old_key, old_whole = node.key, node.free_whole
        node.cpu_free += task.cpu
        node.mem_free += task.mem
        acc_mem = task.acc_mem if task.shared else node.acc_mem_total
        for d in task.devices:
            node.acc_free[d] += task.acc_milli
            node.acc_mem_free[d] += acc_mem
        node._rekey()
        self._move(node, old_key, old_whole)
        del node.tasks[task]
        task.node = None
        task.devices = ()
        self._account(task, -1)
        if not rollback:
            self.release_gen += 1

    def _account(self, task: TaskInfo, sign: int) -> None:
        job = task.job
        acc = task.accel_demand
        job.placed += sign
        if job.placed == len(job.tasks):
            self.waiting.pop(job.id, None)
        elif sign < 0 and job.id in self.jobs:
            self.waiting[job.id] = job
        used = self.used
        used[0] += sign * task.cpu
        used[1] += sign * task.mem
        used[2] += sign * acc
        job.alloc[0] += sign * task.cpu
        job.alloc[1] += sign * task.mem
        job.alloc[2] += sign * acc
        for name in self.queue_tree.chain(job.queue):
            q = self.queues[name]
            q.alloc[0] += sign * task.cpu
            q.alloc[1] += sign * task.mem
            q.alloc[2] += sign * acc
        if job.preemptible:
            tasks = self.queues[job.queue].preemptible_tasks
            if sign > 0:
                tasks[task] = None
            else:
                tasks.pop(task, None)

    # ----------------------------------------------------------- candidates
    def matching_buckets(self, task: TaskInfo) -> list[list[int]]:
        """Sorted position lists of every bucket that may hold ``task``."""
        return [positions for key, positions in self.buckets.items() if bucket_matches(key, task)]

    def domain_capacity(self, domain: str, models: frozenset[str] | None, *, total: bool = False) -> int:
        """Whole devices of the allowed models inside ``domain``: free now, or healthy in all (``total``)."""
        counts = (self.domain_total if total else self.domain_free)[domain]
        if models is None:
            return sum(counts.values())
        return sum(counts.get(m, 0) for m in models)

    def node_classes(self) -> list[NodeState]:
        """One representative node per distinct hardware shape (for "can this ever fit" checks)."""
        if self._classes is None:
            seen: dict[tuple[object, ...], NodeState] = {}
            for n in self.nodes:
                shape = (n.model, n.n_acc, n.cpu_total, n.mem_total, n.arch, n.acc_mem_total, n.healthy)
                seen.setdefault(shape, n)
            self._classes = list(seen.values())
        return self._classes

    def waiting_jobs(self) -> list[JobInfo]:
        """Non-terminal jobs that still have unplaced tasks, in arrival order."""
        return [j for j in self.waiting.values() if j.state not in TERMINAL]
