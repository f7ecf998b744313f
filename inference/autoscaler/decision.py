"""The autoscaler's decision: a pure function from observations to a replica count.

``desired_replicas(current, samples, policy, now, ...)`` follows the Kubernetes HPA algorithm:
per metric, ``proposal = ceil(current * average / target)`` (unchanged within the tolerance); the
recommendation is the largest proposal, bounded by ``[min_replicas, max_replicas]`` and by
``max_scale_up_step``; stabilisation windows pick the smallest recent recommendation for a scale-up
and the largest for a scale-down; a cooldown after the last change holds the count. The caller
keeps the returned ``history`` and passes it back next time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from inference.autoscaler.policy import AutoscalingPolicy


@dataclass(frozen=True, slots=True)
class ReplicaSample:
    """Metric values observed on one replica (only the metrics it reported)."""

    replica_id: str
    values: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class MetricView:
    """One metric's contribution: the replicas' average, its target and the count it proposes."""

    average: float
    target: float
    replicas_reporting: int
    proposal: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: ``desired`` (equal to ``current`` when nothing changes) and why."""

    current: int
    desired: int
    recommendation: int
    reason: str
    metrics: Mapping[str, MetricView] = field(default_factory=dict)
    history: tuple[tuple[datetime, int], ...] = ()

    @property
    def changed(self) -> bool:
        """True when the service should be scaled."""
        return self.desired != self.current


def _proposals(
    current: int, samples: Sequence[ReplicaSample], policy: AutoscalingPolicy
) -> dict[str, MetricView]:
    views: dict[str, MetricView] = {}
    for metric in policy.metrics:
        values = [s.values[metric.name] for s in samples if metric.name in s.values]
        if not values:
            continue
        average = sum(values) / len(values)
        ratio = average / metric.target
        # the epsilons keep float noise (0.9 / 0.6 = 1.5000000000000002) from flipping a decision
        within = abs(ratio - 1.0) <= policy.tolerance + 1e-9
        proposal = current if within else math.ceil(current * ratio - 1e-9)
        views[metric.name] = MetricView(average, metric.target, len(values), proposal)
    return views


def desired_replicas(
    current: int,
    samples: Sequence[ReplicaSample],
    policy: AutoscalingPolicy,
    now: datetime,
    *,
    min_replicas: int,
    max_replicas: int,
    history: Sequence[tuple[datetime, int]] = (),
    last_scale_at: datetime | None = None,
) -> Decision:
    """The replica count the policy asks for now (see module docs); never raises on odd input."""
    if not policy.enabled:
        return Decision(current, current, current, "autoscaling disabled", history=tuple(history))
    if current < min_replicas:
        return Decision(current, min_replicas, min_replicas, f"below minimum {min_replicas}")
    if current > max_replicas:
        return Decision(current, max_replicas, max_replicas, f"above maximum {max_replicas}")
    views = _proposals(current, samples, policy)
    if current == 0 or not views:
        return Decision(current, current, current, "no metric samples", views, tuple(history))
    recommendation = max(v.proposal for v in views.values())
    recommendation = min(recommendation, current + policy.max_scale_up_step)
    recommendation = max(min_replicas, min(max_replicas, recommendation))
    keep = max(policy.scale_up_stabilization_s, policy.scale_down_stabilization_s)
    recent = [(t, r) for t, r in history if now - t <= timedelta(seconds=keep)]
    recent.append((now, recommendation))
    up_window = [r for t, r in recent if now - t <= timedelta(seconds=policy.scale_up_stabilization_s)]
    down_window = [r for t, r in recent if now - t <= timedelta(seconds=policy.scale_down_stabilization_s)]
    desired = current
    if min(up_window) > desired:
        desired = min(up_window)
    if max(down_window) < desired:
        desired = max(down_window)
    driver = max(views, key=lambda name: views[name].proposal)
    if desired == current:
        reason = "within tolerance" if recommendation == current else "held by stabilisation window"
        return Decision(current, current, recommendation, reason, views, tuple(recent))
    if last_scale_at is not None and now - last_scale_at < timedelta(seconds=policy.cooldown_s):
        return Decision(current, current, recommendation, "cooldown", views, tuple(recent))
    view = views[driver]
    reason = f"{driver} average {view.average:.3g} vs target {view.target:.3g}"
    return Decision(current, desired, recommendation, reason, views, tuple(recent))
