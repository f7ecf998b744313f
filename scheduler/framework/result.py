"""What a scheduling cycle produces: placements, evictions, job transitions and pending reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.model.state import JobEvent, JobState


@dataclass(frozen=True, slots=True)
class Placement:
    """Task ``task`` of job ``job_id`` runs on ``node`` using accelerator ``devices``.

    ``accel_milli`` is the compute share per device (1000 for exclusive devices) and
    ``accel_memory_mib`` the device memory reserved per device (0 = not limited).
    """

    job_id: str
    task: str
    node: str
    devices: tuple[int, ...]
    accel_milli: int
    accel_memory_mib: int


@dataclass(frozen=True, slots=True)
class Eviction:
    """A running task to stop (preempt within a queue or reclaim between queues)."""

    job_id: str
    task: str
    node: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class JobTransition:
    """A job state change decided in the cycle."""

    job_id: str
    event: JobEvent
    source: JobState
    target: JobState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PendingInfo:
    """Why a job was not (fully) placed; ``unschedulable`` when it can never fit."""

    reasons: tuple[str, ...]
    unschedulable: bool = False


@dataclass
class CycleResult:
    """Everything a cycle decided. Callers apply it to their store and executors."""

    placements: list[Placement] = field(default_factory=list)
    evictions: list[Eviction] = field(default_factory=list)
    transitions: list[JobTransition] = field(default_factory=list)
    pending: dict[str, PendingInfo] = field(default_factory=dict)
