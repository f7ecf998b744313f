"""A scheduling session: one cycle's snapshot plus the callbacks plugins registered on it.

Extension points (Volcano ``session_plugins.go``): job/queue order keys, predicates, device
selectors, node scores, job valid/ready, allocatable, enqueueable, preemptable, reclaimable,
overused, placement domains and feasibility. Every decision callback returns a :class:`Status`.

Candidate search (:meth:`Session.select_node`) is bounded as kube-scheduler's
``percentageOfNodesToScore`` is: it visits only index buckets that can hold the task, takes at
most ``per_bucket`` feasible nodes from each bucket (lowest node position first) and stops at
``max_feasible`` feasible nodes in all, then scores those. ``per_bucket: 1`` makes a
position-ordered score an exact first-fit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scheduler.framework.result import CycleResult, PendingInfo
from scheduler.framework.snapshot import (
    FULL,
    JobInfo,
    NodeState,
    QueueInfo,
    Snapshot,
    TaskInfo,
    bucket_matches,
)
from scheduler.framework.status import SUCCESS, Code, Status, unschedulable

if TYPE_CHECKING:
    from scheduler.config import SchedulerConfig

OrderKey = Callable[[JobInfo], float]
QueueKey = Callable[[QueueInfo], float]
Predicate = Callable[[TaskInfo, NodeState], Status]
DeviceSelector = Callable[[TaskInfo, NodeState], tuple[int, ...] | None]
Scorer = Callable[[TaskInfo, NodeState, tuple[int, ...]], float]
JobCheck = Callable[[JobInfo], Status]
TaskCheck = Callable[[TaskInfo], Status]
QueueCheck = Callable[[QueueInfo], Status]
VictimFilter = Callable[[TaskInfo, list[TaskInfo]], list[TaskInfo] | None]
DomainPlanner = Callable[[JobInfo], list[str | None] | Status]


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen node and devices for a task, with the winning score."""

    node: NodeState
    devices: tuple[int, ...]
    score: float


def default_devices(task: TaskInfo, node: NodeState) -> tuple[int, ...] | None:
    """Exclusive: the lowest-indexed free devices. Shared: the fullest device that still fits."""
    if task.acc_count == 0:
        return ()
    free = node.acc_free
    if not task.shared:
        picked = tuple(i for i, f in enumerate(free) if f == FULL)[: task.acc_count]
        return picked if len(picked) == task.acc_count else None
    best, best_free = -1, FULL + 1
    mem = node.acc_mem_free
    for i, f in enumerate(free):
        if task.acc_milli <= f < best_free and mem[i] >= task.acc_mem:
            best, best_free = i, f
    return (best,) if best >= 0 else None


class Session:
    """One cycle. Actions drive it; plugins extend it through ``add_*``."""

    def __init__(self, snapshot: Snapshot, config: SchedulerConfig) -> None:
        self.snapshot = snapshot
        self.config = config
        self.result = CycleResult()
        self.per_bucket = config.sampling.per_bucket
        self.max_feasible = config.sampling.max_feasible
        self.max_scan = config.sampling.max_scan_per_bucket
        self.job_order: list[tuple[str, OrderKey]] = []
        self.queue_order: list[tuple[str, QueueKey]] = []
        self.predicates: list[tuple[str, Predicate]] = []
        self.device_selectors: list[tuple[str, DeviceSelector]] = []
        self.scorers: list[tuple[str, Scorer, float]] = []
        self.job_valid_fns: list[tuple[str, JobCheck]] = []
        self.job_ready_fns: list[tuple[str, JobCheck]] = []
        self.allocatable_fns: list[tuple[str, TaskCheck]] = []
        self.enqueueable_fns: list[tuple[str, JobCheck]] = []
        self.overused_fns: list[tuple[str, QueueCheck]] = []
        self.preemptable_fns: list[tuple[int, str, VictimFilter]] = []
        self.reclaimable_fns: list[tuple[int, str, VictimFilter]] = []
        self.domain_planners: list[tuple[str, DomainPlanner]] = []
        self.feasibility_fns: list[tuple[str, JobCheck]] = []
        self.tier_of: dict[str, int] = {}

    # ------------------------------------------------------------- register
    def add_job_order(self, name: str, key: OrderKey) -> None:
        """Jobs sort by the keys in registration order (lower first), then creation time and id."""
        self.job_order.append((name, key))

    def add_queue_order(self, name: str, key: QueueKey) -> None:
        """Queues sort by the keys in registration order (lower first), then name."""
        self.queue_order.append((name, key))

    def add_predicate(self, name: str, fn: Predicate) -> None:
        """A filter: a node is feasible only if every predicate succeeds."""
        self.predicates.append((name, fn))

    def add_device_selector(self, name: str, fn: DeviceSelector) -> None:
        """Picks devices on a feasible node; the first selector returning non-None wins."""
        self.device_selectors.append((name, fn))

    def add_scorer(self, name: str, fn: Scorer, weight: float) -> None:
        """A node score in [0, 100]; the node with the highest weighted sum wins."""
        self.scorers.append((name, fn, weight))

    def add_job_valid(self, name: str, fn: JobCheck) -> None:
        """A job is considered for allocation only if every check succeeds."""
        self.job_valid_fns.append((name, fn))

    def add_job_ready(self, name: str, fn: JobCheck) -> None:
        """A statement commits only if every readiness check succeeds (gang)."""
        self.job_ready_fns.append((name, fn))

    def add_allocatable(self, name: str, fn: TaskCheck) -> None:
        """Quota check before a task is placed."""
        self.allocatable_fns.append((name, fn))

    def add_enqueueable(self, name: str, fn: JobCheck) -> None:
        """Admission check for pending jobs."""
        self.enqueueable_fns.append((name, fn))

    def add_overused(self, name: str, fn: QueueCheck) -> None:
        """Failure means the queue is over its limits and gets nothing more this cycle."""
        self.overused_fns.append((name, fn))

    def add_preemptable(self, name: str, fn: VictimFilter) -> None:
        """Narrows victims within a queue; None abstains. Tiers apply as in Volcano."""
        self.preemptable_fns.append((self.tier_of.get(name, 0), name, fn))

    def add_reclaimable(self, name: str, fn: VictimFilter) -> None:
        """Narrows victims across queues; None abstains."""
        self.reclaimable_fns.append((self.tier_of.get(name, 0), name, fn))

    def add_domain_planner(self, name: str, fn: DomainPlanner) -> None:
        """Candidate topology domains for a job, tried in order (None = anywhere)."""
        self.domain_planners.append((name, fn))

    def add_feasibility(self, name: str, fn: JobCheck) -> None:
        """UnschedulableAndUnresolvable when a job can never fit the cluster."""
        self.feasibility_fns.append((name, fn))

    # --------------------------------------------------------------- query
    def job_key(self, job: JobInfo) -> tuple[float | str, ...]:
        """Sort key for jobs: plugin keys, then creation time, then id (FIFO)."""
        return (*(fn(job) for _, fn in self.job_order), job.created_at, job.id)

    def queue_key(self, queue: QueueInfo) -> tuple[float | str, ...]:
        """Sort key for queues: plugin keys, then name."""
        return (*(fn(queue) for _, fn in self.queue_order), queue.name)

    @staticmethod
    def _all(fns: Sequence[tuple[str, Callable[[object], Status]]], arg: object) -> Status:
        for _, fn in fns:
            status = fn(arg)
            if not status.ok:
                return status
        return SUCCESS

    def job_valid(self, job: JobInfo) -> Status:
        """First failing validity check, or success."""
        return self._all(self.job_valid_fns, job)  # type: ignore[arg-type]

    def job_ready(self, job: JobInfo) -> Status:
        """First failing readiness check, or success."""
        return self._all(self.job_ready_fns, job)  # type: ignore[arg-type]

    def allocatable(self, task: TaskInfo) -> Status:
        """First failing quota check, or success."""
        return self._all(self.allocatable_fns, task)  # type: ignore[arg-type]

    def enqueueable(self, job: JobInfo) -> Status:
        """First failing admission check, or success."""
        return self._all(self.enqueueable_fns, job)  # type: ignore[arg-type]

    def overused(self, queue: QueueInfo) -> Status:
        """First failing overuse check, or success (queue may take more)."""
        return self._all(self.overused_fns, queue)  # type: ignore[arg-type]

    def feasibility(self, job: JobInfo) -> Status:
        """First check saying the job can never fit, or success."""
        return self._all(self.feasibility_fns, job)  # type: ignore[arg-type]

    def placement_domains(self, job: JobInfo) -> list[str | None] | Status:
        """Domains to try for the job, or a failure status; default: anywhere."""
        for _, fn in self.domain_planners:
            return fn(job)
        return [None]

    def _victims(
        self, fns: list[tuple[int, str, VictimFilter]], task: TaskInfo, pool: list[TaskInfo]
    ) -> list[TaskInfo]:
        """Volcano tiers: within a tier intersect plugin answers; the first tier that answers decides."""
        tiers = sorted({t for t, _, _ in fns})
        for tier in tiers:
            chosen: list[TaskInfo] | None = None
            for t, _, fn in fns:
                if t != tier:
                    continue
                answer = fn(task, pool)
                if answer is None:
                    continue
                chosen = answer if chosen is None else [v for v in chosen if v in set(answer)]
            if chosen is not None:
                return chosen
        return []

    def preemptable(self, preemptor: TaskInfo, pool: list[TaskInfo]) -> list[TaskInfo]:
        """Victims (from ``pool``) that ``preemptor`` may evict within its queue."""
        return self._victims(self.preemptable_fns, preemptor, pool)

    def reclaimable(self, reclaimer: TaskInfo, pool: list[TaskInfo]) -> list[TaskInfo]:
        """Victims (from ``pool``) that ``reclaimer`` may evict from other queues."""
        return self._victims(self.reclaimable_fns, reclaimer, pool)

    def predicate(self, task: TaskInfo, node: NodeState) -> Status:
        """First failing predicate on ``node``, or success."""
        for _, fn in self.predicates:
            status = fn(task, node)
            if status.code is not Code.SUCCESS:
                return status
        return SUCCESS

    def devices_for(self, task: TaskInfo, node: NodeState) -> tuple[int, ...] | None:
        """Devices chosen by the first selector that answers, else :func:`default_devices`."""
        for _, fn in self.device_selectors:
            picked = fn(task, node)
            if picked is not None:
                return picked
        return default_devices(task, node)

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Weighted sum of all scorers."""
        total = 0.0
        for _, fn, weight in self.scorers:
            total += weight * fn(task, node, devices)
        return total

    def select_node(self, task: TaskInfo, domain: str | None = None) -> Selection | Status:
        """Best feasible node for ``task`` (inside ``domain`` if given) or why there is none."""
        snap = self.snapshot
        nodes = snap.nodes
        per_bucket, max_feasible, max_scan = self.per_bucket, self.max_feasible, self.max_scan
        feasible: list[tuple[NodeState, tuple[int, ...]]] = []
        failures: Counter[Status | str] = Counter()
        lists = snap.matching_buckets(task)
        reachable = sum(len(lst) for lst in lists)
        if domain is not None:
            dom_list = snap.domain_nodes.get(domain, [])
            if len(dom_list) < reachable:
                # The domain is smaller than the candidate buckets: walk it, keeping per-bucket sampling.
                taken: Counter[tuple[str, int, int]] = Counter()
                reachable = 0
                for pos in dom_list:
                    node = nodes[pos]
                    if not bucket_matches(node.key, task):
                        continue
                    reachable += 1
                    if taken[node.key] >= per_bucket:
                        continue
                    if self._consider(task, node, feasible, failures):
                        taken[node.key] += 1
                        if len(feasible) >= max_feasible:
                            break
                lists = []
            else:
                lists = [[p for p in lst if domain in nodes[p].path] for lst in lists]
                reachable = sum(len(lst) for lst in lists)
        for positions in lists:
            found = 0
            for pos in positions[:max_scan]:
                if self._consider(task, nodes[pos], feasible, failures):
                    found += 1
                    if found >= per_bucket:
                        break
            if len(feasible) >= max_feasible:
                break
        if not feasible:
            total = len(nodes) if domain is None else len(snap.domain_nodes.get(domain, []))
            reasons = [f"0/{total} nodes are available"]
            if total > reachable:
                reasons.append(f"{total - reachable} without {_accel_text(task)}")
            counted: Counter[str] = Counter()
            for what, count in failures.items():
                counted[what if isinstance(what, str) else what.message()] += count
            reasons.extend(f"{count} {msg}" for msg, count in counted.most_common())
            return unschedulable("predicates", *reasons)
        scorers = self.scorers
        if len(feasible) == 1 or not scorers:
            node, devices = feasible[0]
            return Selection(node, devices, 0.0)
        best: tuple[float, int] | None = None
        chosen = feasible[0]
        for node, devices in feasible:
            value = self.score(task, node, devices)
            rank = (value, -node.pos)
            if best is None or rank > best:
                best, chosen = rank, (node, devices)
        assert best is not None
        return Selection(chosen[0], chosen[1], best[0])

    def _consider(
        self,
        task: TaskInfo,
        node: NodeState,
        feasible: list[tuple[NodeState, tuple[int, ...]]],
        failures: Counter[Status | str],
    ) -> bool:
        for _, fn in self.predicates:
            status = fn(task, node)
            if status.code is not Code.SUCCESS:
                failures[status] += 1
                return False
        devices = self.devices_for(task, node)
        if devices is None:
            failures["predicates: no suitable device set"] += 1
            return False
        feasible.append((node, devices))
        return True

    # -------------------------------------------------------------- results
    def set_pending(self, job: JobInfo, statuses: Sequence[Status], *, unschedulable_: bool = False) -> None:
        """Record why ``job`` is not (fully) placed."""
        reasons = tuple(dict.fromkeys(s.message() for s in statuses if not s.ok))
        self.result.pending[job.id] = PendingInfo(reasons, unschedulable_)

    def clear_pending(self, job: JobInfo) -> None:
        """Forget pending reasons after a successful placement."""
        self.result.pending.pop(job.id, None)


def _accel_text(task: TaskInfo) -> str:
    if task.acc_count == 0:
        return "capacity"
    kinds = "/".join(sorted(task.models)) if task.models is not None else "any type"
    if task.shared:
        return f"a device with {task.acc_milli}m free ({kinds})"
    return f"{task.acc_count} free whole accelerator(s) ({kinds})"
