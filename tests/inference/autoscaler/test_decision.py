"""The autoscaler's pure decision: proposals per metric, bounds, tolerance, windows, cooldown."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from inference.autoscaler.decision import ReplicaSample, desired_replicas
from inference.autoscaler.policy import AutoscalingPolicy

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
WAITING = "vllm:num_requests_waiting"
KV = "vllm:kv_cache_usage_perc"


def policy(**overrides: Any) -> AutoscalingPolicy:
    values: dict[str, Any] = {
        "metrics": [{"name": WAITING, "target": 2}],
        "scale_down_stabilization_s": 0,
        "cooldown_s": 0,
    }
    values.update(overrides)
    return AutoscalingPolicy.model_validate(values)


def samples(metric: str, *values: float) -> list[ReplicaSample]:
    return [ReplicaSample(f"mrp_{i}", {metric: v}) for i, v in enumerate(values)]


@dataclass
class Case:
    name: str
    current: int
    observed: list[ReplicaSample]
    expected: int
    reason: str
    policy: AutoscalingPolicy = field(default_factory=policy)
    bounds: tuple[int, int] = (1, 10)
    history: tuple[tuple[datetime, int], ...] = ()
    last_scale_at: datetime | None = None


CASES = [
    Case("queue above target scales up", 2, samples(WAITING, 6, 6), 6, "vllm:num_requests_waiting average 6"),
    Case("queue at target holds", 2, samples(WAITING, 2, 2), 2, "within tolerance"),
    Case("inside tolerance holds", 2, samples(WAITING, 2.1, 2.2), 2, "within tolerance"),
    Case("idle scales down", 4, samples(WAITING, 0, 0, 1, 1), 1, "average 0.5"),
    Case("capped by max replicas", 2, samples(WAITING, 20, 20), 6, "", policy(max_scale_up_step=64), (1, 6)),
    Case("capped by max step", 2, samples(WAITING, 20, 20), 4, "", policy(max_scale_up_step=2)),
    Case("never below min", 3, samples(WAITING, 0, 0, 0), 2, "", bounds=(2, 10)),
    Case("below min is raised", 1, [], 2, "below minimum 2", bounds=(2, 10)),
    Case("above max is lowered", 12, [], 10, "above maximum 10"),
    Case("no samples holds", 3, [], 3, "no metric samples"),
    Case(
        "largest proposal wins across metrics",
        2,
        [ReplicaSample("a", {WAITING: 2, KV: 0.9}), ReplicaSample("b", {WAITING: 2, KV: 0.9})],
        3,
        "vllm:kv_cache_usage_perc",
        policy(metrics=[{"name": WAITING, "target": 2}, {"name": KV, "target": 0.6}]),
    ),
    Case(
        "domestic accelerator memory drives scale-up",
        1,
        samples("accelerator_memory_utilization", 0.95),
        2,
        "accelerator_memory_utilization",
        policy(metrics=[{"name": "accelerator_memory_utilization", "target": 0.6}]),
    ),
    Case(
        "cpu utilisation drives scale-up",
        2,
        samples("cpu_utilization", 0.9, 0.9),
        3,
        "cpu_utilization",
        policy(metrics=[{"name": "cpu_utilization", "target": 0.6}]),
    ),
    Case(
        "replicas without the metric are ignored",
        2,
        [ReplicaSample("a", {WAITING: 8}), ReplicaSample("b", {})],
        8,
        "",
        policy(max_scale_up_step=64),
    ),
    Case(
        "cooldown holds a change",
        2,
        samples(WAITING, 6, 6),
        2,
        "cooldown",
        policy(cooldown_s=60),
        last_scale_at=NOW - timedelta(seconds=30),
    ),
    Case(
        "cooldown over allows it",
        2,
        samples(WAITING, 6, 6),
        6,
        "",
        policy(cooldown_s=60),
        last_scale_at=NOW - timedelta(seconds=61),
    ),
    Case(
        "scale-down window keeps the recent high recommendation",
        4,
        samples(WAITING, 0, 0, 0, 0),
        4,
        "held by stabilisation window",
        policy(scale_down_stabilization_s=300),
        history=((NOW - timedelta(seconds=100), 4),),
    ),
    Case(
        "scale-down window only counts its own span",
        4,
        samples(WAITING, 0, 0, 0, 0),
        1,
        "",
        policy(scale_down_stabilization_s=300),
        history=((NOW - timedelta(seconds=400), 4),),
    ),
    Case(
        "scale-down window lowers to its largest recommendation",
        4,
        samples(WAITING, 0, 0, 0, 0),
        2,
        "",
        policy(scale_down_stabilization_s=300),
        history=((NOW - timedelta(seconds=200), 2), (NOW - timedelta(seconds=100), 1)),
    ),
    Case(
        "scale-up window takes its smallest recommendation",
        2,
        samples(WAITING, 8, 8),
        3,
        "",
        policy(scale_up_stabilization_s=60, max_scale_up_step=64),
        history=((NOW - timedelta(seconds=30), 3),),
    ),
    Case("disabled holds", 2, samples(WAITING, 9, 9), 2, "autoscaling disabled", policy(enabled=False)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_desired_replicas(case: Case) -> None:
    decision = desired_replicas(
        case.current,
        case.observed,
        case.policy,
        NOW,
        min_replicas=case.bounds[0],
        max_replicas=case.bounds[1],
        history=case.history,
        last_scale_at=case.last_scale_at,
    )
    assert decision.desired == case.expected, decision
    assert case.reason in decision.reason
    assert decision.changed == (case.expected != case.current)


def test_history_is_returned_pruned_and_extended() -> None:
    old, recent = (NOW - timedelta(seconds=900), 7), (NOW - timedelta(seconds=10), 3)
    decision = desired_replicas(
        2,
        samples(WAITING, 2, 2),
        policy(scale_down_stabilization_s=300),
        NOW,
        min_replicas=1,
        max_replicas=10,
        history=(old, recent),
    )
    assert decision.history == (recent, (NOW, 2))


def test_metric_view_reports_average_and_proposal() -> None:
    decision = desired_replicas(2, samples(WAITING, 3, 5), policy(), NOW, min_replicas=1, max_replicas=10)
    view = decision.metrics[WAITING]
    assert (view.average, view.target, view.replicas_reporting, view.proposal) == (4.0, 2.0, 2, 4)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"name": "gpu_magic", "target": 1}]}, "metrics.0.name"),
        ({"metrics": [{"name": WAITING, "target": 0}]}, "metrics.0.target"),
        ({"metrics": [{"name": WAITING, "target": 1}, {"name": WAITING, "target": 2}]}, "metrics"),
        ({"metrics": [{"name": WAITING, "target": 1}], "tolerance": 1.5}, "tolerance"),
    ],
)
def test_policy_rejects_bad_input_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        AutoscalingPolicy.model_validate(body)
    text = str(info.value)
    assert field.split(".")[0] in text
