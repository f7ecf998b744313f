"""Builders for routing tests: a controllable clock and replica sets on a private metrics registry."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from inference.gateway.routing import EjectionConfig, EndpointSpec, Policy, ReplicaSet, RoutingMetrics


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def specs(n: int, *, weights: list[float] | None = None, prefix: str = "r") -> list[EndpointSpec]:
    """``n`` endpoint specs ``r0..r{n-1}`` with distinct URLs."""
    return [
        EndpointSpec(
            id=f"{prefix}{i}",
            api_base=f"http://{prefix}{i}.test/v1",
            health_url=f"http://{prefix}{i}.test/health",
            weight=weights[i] if weights else 1.0,
        )
        for i in range(n)
    ]


MakeSet = Callable[..., ReplicaSet]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def make_set(clock: FakeClock, registry: CollectorRegistry) -> MakeSet:
    """``make_set(n, policy=..., ejection=..., seed=..., weights=...)`` → a synced ReplicaSet."""
    metrics = RoutingMetrics(registry)

    def build(
        n: int = 3,
        *,
        policy: str | Policy = "least-outstanding",
        ejection: EjectionConfig | None = None,
        seed: int = 7,
        weights: list[float] | None = None,
        model: str = "m",
    ) -> ReplicaSet:
        replica_set = ReplicaSet(
            policy, ejection, model=model, clock=clock, rng=random.Random(seed), metrics=metrics
        )
        replica_set.sync(specs(n, weights=weights))
        return replica_set

    return build
