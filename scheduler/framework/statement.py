"""All-or-nothing groups of decisions (Volcano ``framework/statement.go``).

Operations apply to the snapshot at once so later choices in the same statement see them;
:meth:`Statement.commit` publishes them to the cycle result, :meth:`Statement.discard` undoes
them in reverse order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.framework.result import Eviction, JobTransition, Placement
from scheduler.model.state import JobEvent, JobState, transition

if TYPE_CHECKING:
    from scheduler.framework.session import Session
    from scheduler.framework.snapshot import JobInfo, NodeState, TaskInfo


class Statement:
    """A sequence of allocations, evictions and job transitions that commit or discard together."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._snapshot = session.snapshot
        self._allocs: list[TaskInfo] = []
        self._evicts: list[tuple[TaskInfo, NodeState, tuple[int, ...], str, str]] = []
        self._moves: list[tuple[JobInfo, JobState, JobTransition]] = []
        self._log: list[tuple[str, int]] = []
        self.closed = False

    def allocate(self, task: TaskInfo, node: NodeState, devices: tuple[int, ...]) -> None:
        """Bind ``task`` to ``node``/``devices`` in the snapshot."""
        self._snapshot.bind(task, node, devices)
        self._log.append(("a", len(self._allocs)))
        self._allocs.append(task)

    def evict(self, task: TaskInfo, *, action: str, reason: str) -> None:
        """Unbind a running ``task``; a gang that falls below its minimum is evicted whole."""
        node = task.node
        assert node is not None
        devices = task.devices
        self._snapshot.unbind(task)
        self._log.append(("e", len(self._evicts)))
        self._evicts.append((task, node, devices, action, reason))
        job = task.job
        if job.state in (JobState.SCHEDULED, JobState.RUNNING) and job.placed < job.min_available:
            self.move(job, JobEvent.EVICT, reason)
            for other in job.tasks:
                if other.node is not None:
                    self.evict(other, action=action, reason=f"gang of {job.id} broken: {reason}")

    def move(self, job: JobInfo, event: JobEvent, reason: str = "") -> None:
        """Apply a validated state machine event to ``job``."""
        target = transition(job.state, event)
        record = JobTransition(job.id, event, job.state, target, reason)
        self._log.append(("m", len(self._moves)))
        self._moves.append((job, job.state, record))
        job.state = target

    def checkpoint(self) -> int:
        """A mark for :meth:`rollback`."""
        return len(self._log)

    def rollback(self, mark: int) -> None:
        """Undo operations made after ``mark`` (newest first), keeping earlier ones."""
        while len(self._log) > mark:
            kind, i = self._log.pop()
            self._undo(kind, i)
            if kind == "a":
                self._allocs.pop()
            elif kind == "e":
                self._evicts.pop()
            else:
                self._moves.pop()

    def _undo(self, kind: str, i: int) -> None:
        if kind == "a":
            self._snapshot.unbind(self._allocs[i], rollback=True)
        elif kind == "e":
            task, node, devices, _, _ = self._evicts[i]
            self._snapshot.bind(task, node, devices)
        else:
            job, old, _ = self._moves[i]
            job.state = old

    def commit(self) -> None:
        """Publish every operation to the session's result."""
        result = self._session.result
        for kind, i in self._log:
            if kind == "a":
                t = self._allocs[i]
                assert t.node is not None
                mem = t.acc_mem if t.shared else t.node.acc_mem_total
                result.placements.append(
                    Placement(t.job.id, t.name, t.node.name, t.devices, t.acc_milli, mem)
                )
            elif kind == "e":
                t, node, _, action, reason = self._evicts[i]
                result.evictions.append(Eviction(t.job.id, t.name, node.name, action, reason))
            else:
                result.transitions.append(self._moves[i][2])
        self.closed = True

    def discard(self) -> None:
        """Undo every operation, newest first."""
        self.rollback(0)
        self.closed = True
