"""The executor protocol: launch a gang's tasks, observe them, stop them, read logs and metrics.

An executor is handed :class:`TaskLaunch` values after the placement is committed to the
store. Launches are keyed by :class:`TaskKey` (task id, attempt) and idempotent: launching a key
that already ran or runs is a no-op, which is what makes a restarted control plane place and
start nothing twice. Executors for other back ends (Kubernetes pods bound to the chosen nodes)
implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True, order=True)
class TaskKey:
    """One attempt of one task."""

    task_id: str
    attempt: int

    @property
    def slug(self) -> str:
        """A file-system friendly name, ``<task id>.<attempt>``."""
        return f"{self.task_id}.{self.attempt}"


@dataclass(frozen=True, slots=True)
class TaskLaunch:
    """Everything needed to start one task attempt.

    ``env`` is complete (placement variables included, see :mod:`scheduler.executors.env`);
    ``work_dir`` is the task's working directory (shared by the gang; checkpoints live there).
    ``gang`` names the job and ``index`` is the task's position in it (its rank, and its bundle
    in a Ray placement group of ``gang_size`` bundles). ``strategy`` is the Ray placement
    strategy derived from the job's topology constraint (STRICT_PACK, PACK or SPREAD).
    """

    key: TaskKey
    gang: str
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    work_dir: Path
    index: int = 0
    gang_size: int = 1
    cpu_milli: int = 1000
    memory_mib: int = 0
    strategy: str = "PACK"


class Phase(StrEnum):
    """Where a task attempt stands in its executor."""

    RUNNING = "running"
    EXITED = "exited"
    LOST = "lost"  # launched, but gone without an exit code (killed with its node, wrapper killed)
    UNKNOWN = "unknown"  # the executor has no trace of it: never launched


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """Observation of one task attempt: phase, exit code, last heartbeat and progress it reported."""

    phase: Phase
    exit_code: int | None = None
    heartbeat_at: datetime | None = None
    progress: float | None = None


@dataclass(frozen=True, slots=True)
class TaskMetrics:
    """Resource use of one task attempt (``None`` where the executor cannot tell)."""

    cpu_seconds: float | None = None
    rss_mib: float | None = None
    runtime_s: float | None = None
    extra: Mapping[str, float] = field(default_factory=dict)


class Executor(Protocol):
    """What the scheduling loop needs from an execution back end."""

    name: str

    async def launch(self, gang: Sequence[TaskLaunch]) -> None:
        """Start every task of ``gang`` not started before (idempotent per :class:`TaskKey`)."""
        ...

    async def status(self, key: TaskKey) -> TaskStatus:
        """The current status of a task attempt; ``UNKNOWN`` when nothing is known of it."""
        ...

    async def stop(self, key: TaskKey) -> None:
        """Stop a task attempt (terminate, then kill after a grace period); no-op if not running."""
        ...

    async def release(self, gang: str) -> None:
        """Free gang-level resources (a Ray placement group) once no task of the gang runs."""
        ...

    async def logs(self, key: TaskKey, *, tail_bytes: int) -> str:
        """The last ``tail_bytes`` of the attempt's combined stdout and stderr ('' if none)."""
        ...

    async def metrics(self, key: TaskKey) -> TaskMetrics:
        """Resource use of the attempt."""
        ...

    async def close(self) -> None:
        """Release the executor's own resources. Running tasks are left running (re-adopted later)."""
        ...
