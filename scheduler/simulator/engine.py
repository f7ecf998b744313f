"""Discrete-event simulator: arrivals and completions on an event heap, one scheduler cycle per instant.

An instant at which no job waits (say, completions on an otherwise settled cluster) runs no
cycle: every action (enqueue, allocate, backfill, preempt, reclaim) starts from the waiting
jobs, so the cycle could decide nothing; ``SimulationLog.idle_instants`` counts those instants.

The simulator owns the only copy of cluster state, so it keeps one :class:`Snapshot` across cycles
(adding arriving jobs, finishing completed ones) and applies each :class:`CycleResult` itself:
scheduled jobs start at once and complete ``duration`` seconds later; evicted jobs lose their
progress and wait again.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from scheduler.framework.scheduler import Scheduler
from scheduler.framework.snapshot import JobRecord, Snapshot, WorkloadClass
from scheduler.model.inventory import Inventory
from scheduler.model.queue import QueueTree
from scheduler.model.state import JobEvent, JobState, transition
from scheduler.simulator.synth import SimJob

ARRIVAL, COMPLETION = 1, 0  # completions first at equal times: they free room for arrivals


@dataclass
class JobOutcome:
    """What happened to one job."""

    arrival: float
    start: float | None = None
    end: float | None = None
    evictions: int = 0
    unschedulable: bool = False


@dataclass
class SimulationLog:
    """Samples over time plus per-job outcomes."""

    times: list[float] = field(default_factory=list)
    alloc_ratio: list[float] = field(default_factory=list)
    outcomes: dict[str, JobOutcome] = field(default_factory=dict)
    cycles: int = 0
    idle_instants: int = 0
    """Event instants with no waiting job, at which no cycle ran."""


class Simulator:
    """Replays ``jobs`` through ``scheduler`` on ``inventory``.

    ``on_sample(snapshot, time)`` is called after each cycle at most every ``sample_every``
    seconds of simulated time (and at the end) so callers can record extra measures.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        inventory: Inventory,
        queues: QueueTree,
        *,
        profile: tuple[WorkloadClass, ...] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.snapshot = Snapshot(inventory, queues)
        self.snapshot.workload_profile = profile
        self.log = SimulationLog()
        self._events: list[tuple[float, int, int, str, int]] = []
        self._seq = 0
        self._jobs: dict[str, SimJob] = {}
        self._epoch: dict[str, int] = {}

    def _push(self, time: float, kind: int, job_id: str, epoch: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._events, (time, kind, self._seq, job_id, epoch))

    def submit(self, jobs: Sequence[SimJob]) -> None:
        """Queue arrivals."""
        for job in jobs:
            self._jobs[job.spec.id] = job
            self.log.outcomes[job.spec.id] = JobOutcome(job.arrival)
            self._push(job.arrival, ARRIVAL, job.spec.id)

    def run(
        self,
        *,
        sample_every: float = 0.0,
        on_sample: Callable[[Snapshot, float], None] | None = None,
        progress: Callable[[int], None] | None = None,
        stop: Callable[[Snapshot], bool] | None = None,
        skip_idle: bool = True,
    ) -> SimulationLog:
        """Process every event; returns the log. ``stop`` ends the run early when it returns True.

        ``skip_idle=False`` runs a cycle at every instant, even with no waiting job (the results are
        the same; tests compare both)."""
        snap = self.snapshot
        last_sample = float("-inf")
        now = 0.0
        while self._events:
            now = self._events[0][0]
            handled = 0
            while self._events and self._events[0][0] == now:
                _, kind, _, job_id, epoch = heapq.heappop(self._events)
                handled += 1
                if kind == ARRIVAL:
                    snap.add_job(JobRecord(self._jobs[job_id].spec))
                elif self._epoch.get(job_id) == epoch and job_id in snap.jobs:
                    job = snap.jobs[job_id]
                    job.state = transition(job.state, JobEvent.COMPLETE)
                    snap.finish_job(job_id)
                    self.log.outcomes[job_id].end = now
            if not skip_idle or snap.waiting_jobs():
                result = self.scheduler.run_cycle(snap)
                self.log.cycles += 1
                self._apply(result.transitions, now)
            else:
                # Every action works on waiting jobs, so a cycle here would decide nothing.
                self.log.idle_instants += 1
            if progress is not None:
                progress(handled)
            if now - last_sample >= sample_every:
                self._sample(now, on_sample)
                last_sample = now
            if stop is not None and stop(snap):
                break
        self._sample(now, on_sample)
        return self.log

    def _apply(self, transitions: Sequence[object], now: float) -> None:
        snap = self.snapshot
        for t in transitions:
            job_id = t.job_id  # type: ignore[attr-defined]
            target = t.target  # type: ignore[attr-defined]
            outcome = self.log.outcomes[job_id]
            if target is JobState.SCHEDULED:
                job = snap.jobs[job_id]
                if job.state is not JobState.SCHEDULED:
                    continue  # evicted again later in the same cycle
                job.state = transition(job.state, JobEvent.START)
                outcome.start = now
                epoch = self._epoch.get(job_id, 0) + 1
                self._epoch[job_id] = epoch
                duration = self._jobs[job_id].duration
                if duration is not None:
                    self._push(now + duration, COMPLETION, job_id, epoch)
            elif t.event is JobEvent.EVICT:  # type: ignore[attr-defined]
                outcome.evictions += 1
                outcome.start = None
                self._epoch[job_id] = self._epoch.get(job_id, 0) + 1
            elif target is JobState.UNSCHEDULABLE:
                outcome.unschedulable = True

    def _sample(self, now: float, on_sample: Callable[[Snapshot, float], None] | None) -> None:
        snap = self.snapshot
        self.log.times.append(now)
        self.log.alloc_ratio.append(snap.used[2] / snap.total[2] if snap.total[2] else 0.0)
        if on_sample is not None:
            on_sample(snap, now)
