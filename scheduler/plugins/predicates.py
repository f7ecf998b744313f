"""Predicates: node selector, CPU, memory, architecture, accelerator model and device capacity;
"can it ever fit"."""

from __future__ import annotations

from typing import Any

from scheduler.framework.session import Session
from scheduler.framework.snapshot import FULL, JobInfo, NodeState, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unresolvable, unschedulable
from scheduler.model import labels
from scheduler.plugins._args import check_keys

NAME = "predicates"
NO_CPU = unschedulable(NAME, "Insufficient cpu")
NO_MEM = unschedulable(NAME, "Insufficient memory")
NO_ACC = unschedulable(NAME, "Insufficient accelerators")
NO_SHARE = unschedulable(NAME, "no device with enough free compute/memory share")
BAD_MODEL = unschedulable(NAME, "accelerator model not allowed")
BAD_ARCH = unschedulable(NAME, "node architecture not allowed")


def selector_mismatch(task: TaskInfo) -> Status:
    """The pending reason of a node that lacks the labels the task's job selects (names the selector)."""
    return unschedulable(NAME, f"node(s) didn't match node selector {labels.describe(task.selector)}")


def fits(task: TaskInfo, node: NodeState) -> Status:
    """Whether ``task`` fits ``node``: the node carries the job's selected labels and has the free
    capacity now."""
    if task.selector and not labels.matches(task.selector, node.labels):
        return selector_mismatch(task)
    if task.cpu > node.cpu_free:
        return NO_CPU
    if task.mem > node.mem_free:
        return NO_MEM
    if task.archs is not None and node.arch not in task.archs:
        return BAD_ARCH
    if task.acc_count:
        if task.models is not None and node.model not in task.models:
            return BAD_MODEL
        if not node.model:
            return NO_ACC
        if task.shared:
            need, mem = task.acc_milli, task.acc_mem
            free_mem = node.acc_mem_free
            for i, f in enumerate(node.acc_free):
                if f >= need and free_mem[i] >= mem:
                    return SUCCESS
            return NO_SHARE
        if node.free_whole < task.acc_count:
            return NO_ACC
    return SUCCESS


def could_ever_fit(task: TaskInfo, node: NodeState) -> bool:
    """Whether ``task`` fits ``node`` when the node is empty (health ignored: nodes recover)."""
    if task.selector and not labels.matches(task.selector, node.labels):
        return False
    if task.cpu > node.cpu_total or task.mem > node.mem_total:
        return False
    if task.archs is not None and node.arch not in task.archs:
        return False
    if task.acc_count == 0:
        return True
    if not node.model or (task.models is not None and node.model not in task.models):
        return False
    if task.shared:
        return task.acc_mem <= node.acc_mem_total and node.n_acc >= 1
    return node.n_acc >= task.acc_count


class PredicatesPlugin:
    """Resource-fit predicate and the "never fits" feasibility check (kube NodeResourcesFit)."""

    name = NAME

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, set())
        self._session: Session | None = None

    def on_session_open(self, session: Session) -> None:
        """Register the predicate and the feasibility check."""
        self._session = session
        session.add_predicate(self.name, fits)
        session.add_feasibility(self.name, self.feasible)

    def on_session_close(self, session: Session) -> None:
        """Drop the session."""
        self._session = None

    def feasible(self, job: JobInfo) -> Status:
        """Unresolvable if some essential task fits no node (of those its node selector admits) even when
        the node is empty, or the gang exceeds the cluster."""
        assert self._session is not None
        snap = self._session.snapshot
        selector = job.spec.node_selector
        # node classes ignore labels: a job with a selector is checked against every node
        candidates = snap.nodes if selector else snap.node_classes()
        seen: set[str] = set()
        for task in job.tasks[: job.min_available]:
            if task.group in seen:
                continue
            seen.add(task.group)
            if not any(could_ever_fit(task, n) for n in candidates):
                if selector and not any(labels.matches(selector, n.labels) for n in snap.nodes):
                    return unresolvable(
                        self.name, f"no node matches node selector {labels.describe(selector)}"
                    )
                where = f"matching node selector {labels.describe(selector)} " if selector else ""
                return unresolvable(
                    self.name,
                    f"task group {task.group!r} fits no node {where}in the cluster even when it is empty",
                )
        cpu, mem, acc = job.min_request()
        total = snap.total
        if cpu > total[0] or mem > total[1] or acc > total[2]:
            return unresolvable(self.name, "the gang minimum exceeds the whole cluster's capacity")
        whole = sum(t.acc_count for t in job.tasks[: job.min_available] if not t.shared)
        if whole and whole * FULL > total[2]:
            return unresolvable(self.name, "the gang needs more whole accelerators than the cluster has")
        return SUCCESS
