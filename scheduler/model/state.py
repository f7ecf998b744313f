"""Job state machine: states, events and validated transitions (pure; no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.model.errors import InvalidTransitionError


class JobState(StrEnum):
    """Lifecycle states of a job."""

    PENDING = "pending"  # submitted, not yet admitted by its queue
    QUEUED = "queued"  # admitted (enqueue action), waiting for resources
    SCHEDULED = "scheduled"  # gang placed, executor not yet started
    RUNNING = "running"
    SUSPENDED = "suspended"  # stopped by the user; holds no resources
    UNSCHEDULABLE = "unschedulable"  # can never fit the cluster as it is
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobEvent(StrEnum):
    """Events that move a job between states."""

    ADMIT = "admit"
    SCHEDULE = "schedule"
    START = "start"
    EVICT = "evict"
    SUSPEND = "suspend"
    RESUME = "resume"
    MARK_UNSCHEDULABLE = "mark_unschedulable"
    RETRY = "retry"  # the cluster changed; an unschedulable job is reconsidered
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"


TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})

S, E = JobState, JobEvent
TRANSITIONS: dict[tuple[JobState, JobEvent], JobState] = {
    (S.PENDING, E.ADMIT): S.QUEUED,
    (S.PENDING, E.MARK_UNSCHEDULABLE): S.UNSCHEDULABLE,
    (S.QUEUED, E.SCHEDULE): S.SCHEDULED,
    (S.QUEUED, E.MARK_UNSCHEDULABLE): S.UNSCHEDULABLE,
    (S.SCHEDULED, E.START): S.RUNNING,
    (S.SCHEDULED, E.EVICT): S.QUEUED,
    (S.SCHEDULED, E.FAIL): S.FAILED,
    (S.RUNNING, E.EVICT): S.QUEUED,
    (S.RUNNING, E.COMPLETE): S.COMPLETED,
    (S.RUNNING, E.FAIL): S.FAILED,
    (S.UNSCHEDULABLE, E.RETRY): S.PENDING,
    (S.SUSPENDED, E.RESUME): S.PENDING,
}
for _state in (S.PENDING, S.QUEUED, S.SCHEDULED, S.RUNNING, S.UNSCHEDULABLE):
    TRANSITIONS[(_state, E.SUSPEND)] = S.SUSPENDED
for _state in (S.PENDING, S.QUEUED, S.SCHEDULED, S.RUNNING, S.SUSPENDED, S.UNSCHEDULABLE):
    TRANSITIONS[(_state, E.CANCEL)] = S.CANCELLED
del S, E, _state


def transition(state: JobState, event: JobEvent) -> JobState:
    """The state after ``event``; raises :class:`InvalidTransitionError` if the event is not allowed."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransitionError(state.value, event.value) from None


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One applied transition and why."""

    event: JobEvent
    source: JobState
    target: JobState
    reason: str


@dataclass
class JobLifecycle:
    """A job's current state plus the history of applied events."""

    state: JobState = JobState.PENDING
    history: list[TransitionRecord] = field(default_factory=list)

    def apply(self, event: JobEvent, reason: str = "") -> TransitionRecord:
        """Apply ``event`` (validated by :func:`transition`) and record it."""
        target = transition(self.state, event)
        record = TransitionRecord(event, self.state, target, reason)
        self.state = target
        self.history.append(record)
        return record

    @property
    def terminal(self) -> bool:
        """True once the job completed, failed or was cancelled."""
        return self.state in TERMINAL
