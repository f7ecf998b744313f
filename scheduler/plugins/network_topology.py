"""Network topology: place a job inside the smallest switch domain that can hold it.

As Volcano HyperNode / Kueue TAS: for a job with a topology constraint at tier ``T`` the planner
lists domains at tiers ``leaf .. T`` (lower tiers first) whose free whole devices of the allowed
models cover the job's remaining gang demand, tightest fit first, at most ``max_domains`` of them.
``required``: only those domains (none → Unschedulable; no domain big enough even when empty →
UnschedulableAndUnresolvable). ``preferred``: the same list, then anywhere. Gangs without a
constraint are placed anywhere, and the scorer keeps their tasks close to the gang's first task.
"""

from __future__ import annotations

from typing import Any

from scheduler.config import ConfigError
from scheduler.framework.session import Session
from scheduler.framework.snapshot import JobInfo, NodeState, Snapshot, TaskInfo
from scheduler.framework.status import SUCCESS, Status, unresolvable, unschedulable
from scheduler.model.job import TopologyMode
from scheduler.plugins._args import check_keys, number


def gang_demand(job: JobInfo) -> tuple[int, frozenset[str] | None]:
    """Devices still needed by the job's unplaced essential tasks and the models they accept."""
    need = 0
    models: frozenset[str] | None = None
    for task in job.tasks[: job.min_available]:
        if task.node is None and task.acc_count:
            need += task.acc_count
            if task.models is not None:
                models = task.models if models is None else models | task.models
    return need, models


class NetworkTopologyPlugin:
    """Domain planner, "can never fit" check and proximity scorer."""

    name = "network-topology"

    def __init__(self, args: dict[str, Any]) -> None:
        check_keys(self.name, args, {"weight", "max_domains"})
        self.weight = number(self.name, args, "weight", 1.0)
        max_domains = args.get("max_domains", 3)
        if not isinstance(max_domains, int) or max_domains < 1:
            raise ConfigError(f"{self.name}.args.max_domains: must be a positive integer")
        self.max_domains = max_domains
        self._snap: Snapshot | None = None

    def on_session_open(self, session: Session) -> None:
        """Register planner, feasibility and scorer."""
        self._snap = session.snapshot
        session.add_domain_planner(self.name, self.plan)
        session.add_feasibility(self.name, self.feasible)
        session.add_scorer(self.name, self.score, self.weight)

    def on_session_close(self, session: Session) -> None:
        """Drop the snapshot."""
        self._snap = None

    def plan(self, job: JobInfo) -> list[str | None] | Status:
        """Domains to try for ``job`` (None = anywhere)."""
        constraint = job.spec.topology
        snap = self._snap
        assert snap is not None
        if constraint is None:
            return [None]
        top = snap.tiers.index(constraint.tier)
        need, models = gang_demand(job)
        candidates: list[tuple[int, int, str]] = []
        if need:
            for level in range(1 if top > 0 else 0, top + 1):
                for dom in snap.domains_at[level]:
                    free = snap.domain_capacity(dom, models)
                    if free >= need:
                        candidates.append((level, free, dom))
                if len(candidates) >= self.max_domains:
                    break
        else:
            candidates = [(top, 0, d) for d in snap.domains_at[top]]
        candidates.sort()
        plan: list[str | None] = [d for _, _, d in candidates[: self.max_domains]]
        if constraint.mode is TopologyMode.PREFERRED:
            return [*plan, None]
        if not plan:
            return unschedulable(self.name, f"no {constraint.tier} domain has {need} free accelerators now")
        return plan

    def feasible(self, job: JobInfo) -> Status:
        """Unresolvable when a required constraint's tier has no domain big enough even when empty."""
        constraint = job.spec.topology
        snap = self._snap
        assert snap is not None
        if constraint is None or constraint.mode is not TopologyMode.REQUIRED:
            return SUCCESS
        level = snap.tiers.index(constraint.tier)
        need = sum(t.acc_count for t in job.tasks[: job.min_available])
        _, models = gang_demand(job)
        if need and not any(
            snap.domain_capacity(d, models, total=True) >= need for d in snap.domains_at[level]
        ):
            return unresolvable(
                self.name, f"no {constraint.tier} domain holds {need} accelerators of the allowed types"
            )
        return SUCCESS

    def score(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> float:
        """100 × share of topology levels the node shares with the gang's first placed task."""
        job = task.job
        if job.min_available <= 1:
            return 100.0
        anchor = job.tasks[0].node
        if anchor is None or anchor is node:
            return 100.0
        a, b = anchor.path, node.path
        levels = len(a)
        for i in range(1, levels):
            if a[i] == b[i]:
                return 100.0 * (levels - i) / levels
        return 0.0
