"""Recovery policies: what to do about a fault, given the job's policy and its retry count (pure).

Policies (6.2.4.3): ``restart_in_place`` relaunches on the same placement; ``reschedule`` gives
the placement back so the scheduler places the job again, away from the faulty node when it can;
``restart_from_checkpoint`` relaunches (in place when the node is usable, elsewhere otherwise)
with ``STIC_RESUME_FROM`` pointing at the job's latest checkpoint. Retries are limited and
spaced by exponential backoff. ``scope`` says whether a fault restarts only the failed task or
the whole gang (collective training cannot continue with one rank restarted alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from scheduler.recovery.detectors import Fault, FaultKind

# faults whose placement cannot be reused: a restart in place becomes a reschedule
MOVING_FAULTS = (FaultKind.NODE_LOST, FaultKind.STRAGGLER, FaultKind.ACCELERATOR_LOST)


class PolicyKind(StrEnum):
    """How a job recovers from faults."""

    RESTART_IN_PLACE = "restart_in_place"
    RESCHEDULE = "reschedule"
    RESTART_FROM_CHECKPOINT = "restart_from_checkpoint"


class Scope(StrEnum):
    """What a fault restarts."""

    TASK = "task"
    GANG = "gang"


class Action(StrEnum):
    """The recovery step decided for a fault."""

    RESTART = "restart"  # relaunch on the same placement
    RESCHEDULE = "reschedule"  # release the placement; the scheduler places the job again
    FAIL = "fail"  # retries exhausted: the job fails
    NONE = "none"  # observe only (e.g. a straggler when the policy does not move stragglers)


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    """A job's fault-tolerance settings."""

    kind: PolicyKind = PolicyKind.RESTART_IN_PLACE
    max_retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    scope: Scope = Scope.TASK
    heartbeat_timeout_s: float | None = None
    straggler_ratio: float = 0.5
    reschedule_stragglers: bool = False

    def backoff(self, retries: int) -> float:
        """Delay before retry number ``retries + 1``: ``backoff_s × 2^retries``, capped."""
        return min(self.backoff_max_s, self.backoff_s * (2 ** min(retries, 30)))


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do: ``action`` after ``delay_s``; ``resume`` sets the latest checkpoint on relaunch."""

    action: Action
    delay_s: float
    resume: bool
    reason: str
    counts_as_retry: bool = True


def decide(policy: RecoveryPolicy, fault: Fault, *, retries: int, node_usable: bool) -> Decision:
    """The recovery step for ``fault`` of a job that has already retried ``retries`` times.

    ``node_usable`` is False when the fault's node is cordoned, lost or unhealthy: then a restart
    in place becomes a reschedule, as it does for faults in :data:`MOVING_FAULTS` (a lost node or
    device, a straggler the policy moves).
    """
    resume = policy.kind is PolicyKind.RESTART_FROM_CHECKPOINT
    if fault.kind is FaultKind.STRAGGLER and not policy.reschedule_stragglers:
        return Decision(Action.NONE, 0.0, False, f"{fault.message}; node marked slow", counts_as_retry=False)
    if retries >= policy.max_retries:
        return Decision(Action.FAIL, 0.0, False, f"{fault.message}; retry limit {policy.max_retries} reached")
    delay = policy.backoff(retries)
    moves = fault.kind in MOVING_FAULTS or not node_usable
    if policy.kind is PolicyKind.RESCHEDULE or moves:
        return Decision(
            Action.RESCHEDULE, delay, resume, f"{fault.message}; rescheduling (retry {retries + 1})"
        )
    how = "from the latest checkpoint" if resume else "in place"
    return Decision(Action.RESTART, delay, resume, f"{fault.message}; restarting {how} (retry {retries + 1})")
