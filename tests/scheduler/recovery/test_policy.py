"""Recovery decisions, table-driven: policy × fault × retries × node state."""

from __future__ import annotations

import pytest

from scheduler.recovery.detectors import Fault, FaultKind
from scheduler.recovery.policy import Action, PolicyKind, RecoveryPolicy, decide

EXIT = Fault(FaultKind.ABNORMAL_EXIT, "w-0", "n0", "task w-0 exited with code 1")
HANG = Fault(FaultKind.HANG, "w-0", "n0", "hang")
LOST = Fault(FaultKind.NODE_LOST, "w-0", "n0", "node n0 lost")
SLOW = Fault(FaultKind.STRAGGLER, "w-0", "n0", "slow", slowdown=3.0)
CARD = Fault(FaultKind.ACCELERATOR_LOST, "w-0", "n0", "accelerator 1 of n0 lost")
IN_PLACE, MOVE, CKPT = PolicyKind.RESTART_IN_PLACE, PolicyKind.RESCHEDULE, PolicyKind.RESTART_FROM_CHECKPOINT


@pytest.mark.parametrize(
    ("kind", "fault", "retries", "usable", "action", "resume"),
    [
        (IN_PLACE, EXIT, 0, True, Action.RESTART, False),
        (IN_PLACE, HANG, 1, True, Action.RESTART, False),
        (IN_PLACE, EXIT, 0, False, Action.RESCHEDULE, False),  # node cordoned: cannot stay
        (IN_PLACE, LOST, 0, True, Action.RESCHEDULE, False),
        (MOVE, EXIT, 0, True, Action.RESCHEDULE, False),
        (CKPT, EXIT, 0, True, Action.RESTART, True),
        (CKPT, LOST, 0, True, Action.RESCHEDULE, True),
        (IN_PLACE, EXIT, 3, True, Action.FAIL, False),  # retry limit reached
        (IN_PLACE, SLOW, 0, True, Action.NONE, False),  # stragglers are only marked by default
        (IN_PLACE, CARD, 0, True, Action.RESCHEDULE, False),  # a lost device cannot be restarted on
        (CKPT, CARD, 0, True, Action.RESCHEDULE, True),
        (IN_PLACE, CARD, 3, True, Action.FAIL, False),
    ],
)
def test_decide(
    kind: PolicyKind, fault: Fault, retries: int, usable: bool, action: Action, resume: bool
) -> None:
    decision = decide(RecoveryPolicy(kind=kind, max_retries=3), fault, retries=retries, node_usable=usable)
    assert decision.action is action and decision.resume is resume


def test_stragglers_move_when_the_policy_says_so() -> None:
    policy = RecoveryPolicy(reschedule_stragglers=True)
    assert decide(policy, SLOW, retries=0, node_usable=True).action is Action.RESCHEDULE


@pytest.mark.parametrize(("retries", "delay"), [(0, 1.0), (1, 2.0), (2, 4.0), (6, 60.0), (200, 60.0)])
def test_exponential_backoff_is_capped(retries: int, delay: float) -> None:
    policy = RecoveryPolicy(backoff_s=1.0, backoff_max_s=60.0, max_retries=1000)
    assert policy.backoff(retries) == delay
    assert decide(policy, EXIT, retries=retries, node_usable=True).delay_s == delay
