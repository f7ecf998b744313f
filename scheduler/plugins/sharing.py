"""Sharing: fractional accelerator packing scored by fragmentation growth (FGD, Weng et al., ATC'23).

Fragmentation of a node for one task class ``m`` (demand ``k`` whole devices or a share ``r``,
plus CPU and memory) is the free accelerator capacity the node cannot give to ``m``:

* the node cannot host ``m`` at all (CPU, memory, too few devices) → all its free capacity;
* ``m`` is fractional → free capacity of devices whose free share is below ``r``;
* ``m`` needs whole devices → free capacity of partly used devices.

The node's fragmentation is the popularity-weighted sum over the workload's classes. A task goes
where its placement increases fragmentation least; for shared tasks the plugin also picks the
device. Scores map the increase Δ (milli-devices) to ``50 − 50·Δ / (max devices per node × 1000)``
clipped to [0, 100].

The workload distribution comes from ``args.workload`` (list of ``{count, milli, cpu, memory,
weight}``), else the snapshot's ``workload_profile`` (the simulator sets it from the trace), else
the tasks of the jobs in the snapshot. Simplification: classes carry no model constraint.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import Any

from scheduler.config import ConfigError
from scheduler.framework.session import Session
from scheduler.framework.snapshot import FULL, NodeState, Snapshot, TaskInfo, WorkloadClass
from scheduler.plugins._args import check_keys, number

MAX_CLASSES = 64


def profile_from_tasks(tasks: list[TaskInfo]) -> tuple[WorkloadClass, ...]:
    """Workload classes (at most 64, most popular first) from a list of tasks."""
    counts: Counter[tuple[int, int, int, int]] = Counter()
    for t in tasks:
        counts[(t.acc_count, t.acc_milli, t.cpu, t.mem)] += 1
    total = sum(counts.values()) or 1
    return tuple(
        WorkloadClass(k, m, c, mem, n / total) for (k, m, c, mem), n in counts.most_common(MAX_CLASSES)
    )


def _parse_workload(raw: Any) -> tuple[WorkloadClass, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise ConfigError("sharing.args.workload: must be a non-empty list")
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(
                WorkloadClass(
                    int(item.get("count", 1)),
                    int(item.get("milli", 1000)),
                    int(item.get("cpu", 0)),
                    int(item.get("memory", 0)),
                    float(item["weight"]),
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"sharing.args.workload[{i}]: needs numeric count/milli/cpu/memory/weight"
            ) from exc
    return tuple(out)


class Fragmentation:
    """FGD fragmentation measure for one workload distribution, memoised by node state."""

    def __init__(self, classes: tuple[WorkloadClass, ...]) -> None:
        total = sum(c.weight for c in classes) or 1.0
        self.classes = tuple(
            WorkloadClass(c.count, c.milli, c.cpu_milli, c.memory_mib, c.weight / total) for c in classes
        )
        self._cpu_levels = sorted({c.cpu_milli for c in self.classes})
        self._mem_levels = sorted({c.memory_mib for c in self.classes})
        self._cache: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def of(self, cpu_free: int, mem_free: int, acc_free: tuple[int, ...] | list[int]) -> float:
        """Expected unusable free accelerator capacity (milli) of a node in this state."""
        key = (
            bisect.bisect_right(self._cpu_levels, cpu_free),
            bisect.bisect_right(self._mem_levels, mem_free),
            tuple(sorted(acc_free)),
        )
        value = self._cache.get(key)
        if value is None:
            value = self._compute(cpu_free, mem_free, key[2])
            self._cache[key] = value
        return value

    def _compute(self, cpu_free: int, mem_free: int, free: tuple[int, ...]) -> float:
        total_free = sum(free)
        if total_free == 0:
            return 0.0
        whole = sum(1 for f in free if f == FULL)
        partial_free = total_free - whole * FULL
        best = free[-1] if free else 0
        frag = 0.0
        for c in self.classes:
            if c.count == 0:
                continue  # CPU-only classes use no accelerator capacity
            if c.cpu_milli > cpu_free or c.memory_mib > mem_free:
                frag += c.weight * total_free
            elif c.milli < FULL:
                if best < c.milli:
                    frag += c.weight * total_free
                else:
                    frag += c.weight * sum(f for f in free if f < c.milli)
            elif whole < c.count:
                frag += c.weight * total_free
            else:
                frag += c.weight * partial_free
        return frag


class SharingPlugin:
    """FGD device selector (shared tasks) and fragmentation-growth scorer (all tasks)."""

    name = "sharing"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "workload"})
        self.weight = number(self.name, args, "weight", 1.0)
        self._configured = _parse_workload(args.get("workload"))
        self._frag: Fragmentation | None = None
        self._source: object = None
        self._scale = 1000.0

    def on_session_open(self, session: Session) -> None:
        """Pick the workload distribution and register selector and scorer."""
        snap = session.snapshot
        self._frag = self._measure_for(snap)
        self._scale = float(max(1, snap.max_devices) * FULL)
        session.add_device_selector(self.name, self.select)
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """The fragmentation cache is kept while the workload distribution is unchanged."""

    def _measure_for(self, snap: Snapshot) -> Fragmentation:
        source: object = self._configured or snap.workload_profile
        if source is None:
            tasks = [t for job in list(snap.jobs.values())[:2000] for t in job.tasks]
            source = profile_from_tasks(tasks) or (WorkloadClass(1, FULL, 0, 0, 1.0),)
        if self._frag is None or source != self._source:
            assert isinstance(source, tuple)
            self._frag = Fragmentation(source)
            self._source = source
        return self._frag

    @property
    def measure(self) -> Fragmentation:
        """The fragmentation measure of the current session."""
        assert self._frag is not None
        return self._frag

    def _after(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        free = list(node.acc_free)
        for d in devices:
            free[d] -= task.acc_milli
        return self.measure.of(node.cpu_free - task.cpu, node.mem_free - task.mem, free)

    def select(self, task: TaskInfo, node: NodeState) -> tuple[int, ...] | None:
        """For shared tasks: the fitting device whose use grows fragmentation least (fullest on ties)."""
        if not task.shared:
            return None
        best: tuple[float, int, int] | None = None
        seen: set[int] = set()
        mem = node.acc_mem_free
        for i, f in enumerate(node.acc_free):
            if f < task.acc_milli or mem[i] < task.acc_mem or f in seen:
                continue
            seen.add(f)  # devices with equal free share are interchangeable for fragmentation
            rank = (self._after(task, node, (i,)), f, i)
            if best is None or rank < best:
                best = rank
        return (best[2],) if best is not None else None

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """Lower fragmentation growth scores higher."""
        before = self.measure.of(node.cpu_free, node.mem_free, node.acc_free)
        delta = self._after(task, node, devices) - before
        value = 50.0 - 50.0 * delta / self._scale
        return 0.0 if value < 0.0 else 100.0 if value > 100.0 else value
