"""Failure detectors: pure functions from observations to :class:`Fault` values (table-tested).

* abnormal exit — a task exited with a non-zero code (or was killed by a signal);
* hang — a running task reported no heartbeat or progress for longer than the job's timeout;
* node lost — a node that reports heartbeats has been silent longer than the node timeout;
* straggler — a task's progress rate is far below the median rate of its peers in the job;
* accelerator lost — a device a task holds was reported lost by its node ("掉卡", 6.4.3 c).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class FaultKind(StrEnum):
    """What went wrong."""

    ABNORMAL_EXIT = "abnormal_exit"
    HANG = "hang"
    NODE_LOST = "node_lost"
    STRAGGLER = "straggler"
    ACCELERATOR_LOST = "accelerator_lost"


@dataclass(frozen=True, slots=True)
class Fault:
    """A detected fault of ``task`` (None for node-level faults) on ``node``."""

    kind: FaultKind
    task: str | None
    node: str | None
    message: str
    slowdown: float = 1.0


@dataclass(frozen=True, slots=True)
class TaskObservation:
    """What the monitor knows about one running task attempt."""

    name: str
    node: str | None
    started_at: datetime
    exit_code: int | None = None
    heartbeat_at: datetime | None = None
    progress: float | None = None


def abnormal_exit(task: TaskObservation) -> Fault | None:
    """A fault when the task exited with a non-zero code (negative codes are signals)."""
    if task.exit_code is None or task.exit_code == 0:
        return None
    how = (
        f"killed by signal {-task.exit_code}" if task.exit_code < 0 else f"exited with code {task.exit_code}"
    )
    return Fault(FaultKind.ABNORMAL_EXIT, task.name, task.node, f"task {task.name} {how}")


def hang(task: TaskObservation, *, now: datetime, timeout_s: float | None) -> Fault | None:
    """A fault when a still-running task's last sign of life is older than ``timeout_s``.

    The last sign of life is its latest heartbeat or progress report, or its start when it never
    reported. ``timeout_s`` None disables hang detection for the job.
    """
    if timeout_s is None or task.exit_code is not None:
        return None
    last = task.heartbeat_at or task.started_at
    silent = (now - last).total_seconds()
    if silent <= timeout_s:
        return None
    return Fault(
        FaultKind.HANG,
        task.name,
        task.node,
        f"task {task.name} sent no heartbeat or progress for {silent:.1f}s (timeout {timeout_s:g}s)",
    )


def node_lost(node: str, *, heartbeat_at: datetime | None, now: datetime, timeout_s: float) -> Fault | None:
    """A fault when a node that reports heartbeats has been silent for more than ``timeout_s``.

    Nodes that never reported a heartbeat (no agent) are not judged.
    """
    if heartbeat_at is None:
        return None
    silent = (now - heartbeat_at).total_seconds()
    if silent <= timeout_s:
        return None
    return Fault(FaultKind.NODE_LOST, None, node, f"node {node} lost: no heartbeat for {silent:.1f}s")


def stragglers(
    tasks: Sequence[TaskObservation], *, now: datetime, ratio: float, min_elapsed_s: float
) -> list[Fault]:
    """Tasks whose progress rate is below ``ratio`` × the median rate of the job's running tasks.

    Rate = progress / seconds since start. Needs at least three reporting peers and
    ``min_elapsed_s`` of run time, so that start-up jitter is not mistaken for slowness.
    """
    rates: dict[str, float] = {}
    for t in tasks:
        elapsed = (now - t.started_at).total_seconds()
        if t.exit_code is None and t.progress is not None and elapsed >= min_elapsed_s:
            rates[t.name] = t.progress / elapsed
    if len(rates) < 3:
        return []
    median = statistics.median(rates.values())
    if median <= 0:
        return []
    faults = []
    for t in tasks:
        rate = rates.get(t.name)
        if rate is not None and rate < ratio * median:
            slowdown = median / rate if rate > 0 else 100.0
            faults.append(
                Fault(
                    FaultKind.STRAGGLER,
                    t.name,
                    t.node,
                    f"task {t.name} progresses {slowdown:.1f}x slower than its peers' median",
                    slowdown=min(slowdown, 100.0),
                )
            )
    return faults


def accelerator_lost(task: str, node: str, devices: Sequence[int], lost: Mapping[int, str]) -> Fault | None:
    """A fault when ``task`` holds a device of ``node`` that is lost (``lost``: index → why)."""
    hit = sorted(set(devices) & set(lost))
    if not hit:
        return None
    why = "; ".join(f"accelerator {i}: {lost[i]}" for i in hit)
    return Fault(FaultKind.ACCELERATOR_LOST, task, node, f"task {task} held a lost device of {node} ({why})")
