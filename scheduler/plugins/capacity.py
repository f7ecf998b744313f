"""Capacity: hierarchical queue quotas with guarantee, deserved share, cap, borrowing and lending.

Limit of queue ``q`` in each resource (see :mod:`scheduler.model.queue` for the fields)::

    limit(q) = min(cap(q),
                   deserved(q) + min(borrowing_limit(q), borrowable(q)))      # when deserved is set
    borrowable(q) = sum(lendable(s) for siblings s) - sum(borrowed(s) for siblings s)
    lendable(s) = min(lending_limit(s), max(0, deserved(s) - max(used(s), guarantee(s))))
    borrowed(s) = max(0, used(s) - deserved(s))

A task is allocatable when every queue on its chain (leaf to top) stays within its limit and the
cluster total. Reclaim may take back resources from queues above their deserved share.
"""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import JobInfo, QueueInfo, Snapshot, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unresolvable, unschedulable
from scheduler.model.queue import Queue
from scheduler.model.resources import RESOURCE_NAMES, Resources
from scheduler.model.state import JobState
from scheduler.plugins._args import check_keys

INF = float("inf")
Vec = tuple[float, float, float]


def _vec(r: Resources | None, default: float = INF) -> Vec:
    return (default, default, default) if r is None else (r.cpu_milli, r.memory_mib, r.accel_milli)


class CapacityPlugin:
    """Allocatable / enqueueable / overused checks, queue order, reclaim victims, cap feasibility."""

    name = "capacity"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())
        self._snap: Snapshot | None = None
        self._inqueue: dict[str, list[int]] = {}

    def on_session_open(self, session: Session) -> None:
        """Register callbacks; account admitted-but-unplaced demand per queue."""
        snap = session.snapshot
        self._snap = snap
        self._inqueue = {name: [0, 0, 0] for name in snap.queues}
        for job in snap.waiting_jobs():
            if job.state is JobState.QUEUED and not job.ready:
                self._add_inqueue(job, 1)
        session.add_queue_order(self.name, lambda q: -self._spec(q).priority)
        session.add_queue_order(f"{self.name}/share", self.share)
        session.add_allocatable(self.name, self.allocatable)
        session.add_enqueueable(self.name, self.enqueueable)
        session.add_overused(self.name, self.overused)
        session.add_reclaimable(self.name, self.reclaim_victims)
        session.add_feasibility(self.name, self.feasible)

    def on_session_close(self, session: Session) -> None:
        """Drop the snapshot."""
        self._snap = None

    # ------------------------------------------------------------ helpers
    def _spec(self, q: QueueInfo) -> Queue:
        assert isinstance(q.spec, Queue)
        return q.spec

    def _add_inqueue(self, job: JobInfo, sign: int) -> None:
        assert self._snap is not None
        req = job.min_request()
        for name in self._snap.queue_tree.chain(job.queue):
            acc = self._inqueue[name]
            for i in range(3):
                acc[i] += sign * req[i]

    def limit(self, name: str) -> Vec:
        """Current limit of queue ``name`` per resource (borrowing included)."""
        snap = self._snap
        assert snap is not None
        spec = snap.queue_tree.queues[name]
        cap = _vec(spec.cap)
        total = snap.total
        if spec.deserved is None:
            return (min(cap[0], total[0]), min(cap[1], total[1]), min(cap[2], total[2]))
        deserved = _vec(spec.deserved)
        borrow_limit = _vec(spec.borrowing_limit)
        lendable = [0.0, 0.0, 0.0]
        borrowed = [0.0, 0.0, 0.0]
        for sib in snap.queue_tree.siblings(name):
            s_spec = snap.queue_tree.queues[sib]
            used = snap.queues[sib].alloc
            if s_spec.deserved is None:
                continue
            s_des, s_guar, s_lend = (
                _vec(s_spec.deserved),
                _vec(s_spec.guarantee, 0),
                _vec(s_spec.lending_limit),
            )
            for i in range(3):
                lendable[i] += min(s_lend[i], max(0.0, s_des[i] - max(used[i], s_guar[i])))
                borrowed[i] += max(0.0, used[i] - s_des[i])
        out = []
        for i in range(3):
            borrowable = max(0.0, lendable[i] - borrowed[i])
            out.append(min(cap[i], deserved[i] + min(borrow_limit[i], borrowable), total[i]))
        return (out[0], out[1], out[2])

    def _fits(self, queue: str, req: tuple[int, int, int], extra: list[int] | None) -> Status:
        snap = self._snap
        assert snap is not None
        admission = extra is not None
        for name in snap.queue_tree.chain(queue):
            spec = snap.queue_tree.queues[name]
            used = snap.queues[name].alloc
            lim = self.limit(name)
            if spec.cap is None and spec.deserved is None:
                continue  # no configured quota: the cluster itself is the bound, which predicates check
            if admission and spec.deserved is not None:
                # at admission a queue is always entitled to its deserved share (reclaim gets it back)
                des = _vec(spec.deserved)
                lim = (max(lim[0], des[0]), max(lim[1], des[1]), max(lim[2], des[2]))
            for i in range(3):
                if req[i] == 0:
                    continue
                want = used[i] + req[i] + (extra[i] if extra is not None else 0)
                if want > lim[i]:
                    return unschedulable(
                        self.name,
                        f"queue {name} would exceed its {RESOURCE_NAMES[i]} limit ({want} > {lim[i]:g})",
                    )
        return SUCCESS

    # ------------------------------------------------------------ callbacks
    def share(self, q: QueueInfo) -> float:
        """Largest used/deserved ratio (0 for queues without a deserved share)."""
        spec = self._spec(q)
        if spec.deserved is None:
            return 0.0
        des = _vec(spec.deserved)
        return max((q.alloc[i] / des[i] for i in range(3) if des[i] > 0), default=0.0)

    def allocatable(self, task: TaskInfo) -> Status:
        """Every queue on the chain stays within its limit after placing ``task``."""
        return self._fits(task.job.queue, (task.cpu, task.mem, task.accel_demand), None)

    def enqueueable(self, job: JobInfo) -> Status:
        """The job's minimum plus already admitted demand fits the queue's limit; admits on success."""
        status = self._fits(job.queue, job.min_request(), [0, 0, 0])
        if status.ok:
            status = self._fits_admitted(job)
        if status.ok:
            self._add_inqueue(job, 1)
        return status

    def _fits_admitted(self, job: JobInfo) -> Status:
        """Admitted-but-unplaced demand counts against configured caps (Kueue quota reservation)."""
        snap = self._snap
        assert snap is not None
        req = job.min_request()
        for name in snap.queue_tree.chain(job.queue):
            cap = _vec(snap.queue_tree.queues[name].cap)
            used, waiting = snap.queues[name].alloc, self._inqueue[name]
            for i in range(3):
                if req[i] and used[i] + waiting[i] + req[i] > cap[i]:
                    return unschedulable(
                        self.name,
                        f"queue {name} cap reached by running and admitted jobs ({RESOURCE_NAMES[i]})",
                    )
        return SUCCESS

    def overused(self, q: QueueInfo) -> Status:
        """Failure when the queue has reached its limit in every resource it uses."""
        spec = self._spec(q)
        if spec.cap is None and spec.deserved is None:
            return SUCCESS  # no configured quota
        lim = self.limit(q.name)
        if any(q.alloc[i] >= lim[i] and lim[i] < INF and q.alloc[i] > 0 for i in range(3)):
            return unschedulable(self.name, f"queue {q.name} is at its limit")
        return SUCCESS

    def reclaim_victims(self, reclaimer: TaskInfo, pool: list[TaskInfo]) -> list[TaskInfo]:
        """Tasks of other queues that keep their deserved share of a needed resource after eviction.

        Only a queue below its own deserved share in a resource the reclaimer needs may reclaim.
        """
        snap = self._snap
        assert snap is not None
        own = snap.queue_tree.queues[reclaimer.job.queue]
        need = (reclaimer.cpu, reclaimer.mem, reclaimer.accel_demand)
        if own.deserved is None:
            return []
        own_used = snap.queues[own.name].alloc
        own_des = _vec(own.deserved)
        if not any(need[i] > 0 and own_used[i] + need[i] <= own_des[i] for i in range(3)):
            return []
        out = []
        for v in pool:
            spec = snap.queue_tree.queues[v.job.queue]
            if v.job.queue == own.name or not spec.reclaimable or spec.deserved is None:
                continue
            used = snap.queues[spec.name].alloc
            des = _vec(spec.deserved)
            vreq = (v.cpu, v.mem, v.accel_demand)
            # the victim's queue borrows a resource the reclaimer needs, and keeps its deserved share of it
            if any(need[i] > 0 and vreq[i] > 0 and used[i] - vreq[i] >= des[i] for i in range(3)):
                out.append(v)
        return out

    def feasible(self, job: JobInfo) -> Status:
        """UnschedulableAndUnresolvable when the job's minimum exceeds a hard cap on its chain."""
        snap = self._snap
        assert snap is not None
        req = job.min_request()
        for name in snap.queue_tree.chain(job.queue):
            cap = _vec(snap.queue_tree.queues[name].cap)
            for i in range(3):
                if req[i] > cap[i]:
                    return unresolvable(
                        self.name, f"minimum {RESOURCE_NAMES[i]} {req[i]} exceeds queue {name} cap {cap[i]:g}"
                    )
        return SUCCESS
