"""The QPS and stream searches on fake latency / capacity models."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import pytest

from benchmarks.serving.metrics import RequestOutcome
from benchmarks.serving.search import search_max_rate, search_max_streams
from benchmarks.serving.serve import p99_with_failures


def _queue_p99(
    capacity: float, service_ms: float = 100.0
) -> tuple[Callable[[float], Awaitable[float]], list[float]]:
    """A fake server: P99 grows as utilisation approaches 1 (M/M/1-like), infinite beyond capacity."""
    calls: list[float] = []

    async def measure(rate: float) -> float:
        calls.append(rate)
        rho = rate / capacity
        return math.inf if rho >= 1 else service_ms / (1 - rho) * math.log(100)

    return measure, calls


async def test_rate_search_brackets_then_bisects_to_the_bound() -> None:
    measure, calls = _queue_p99(capacity=20.0)
    # P99 <= 1000 ms ⇔ 460.5 / (1 - rate / 20) <= 1000 ⇔ rate <= 10.79
    result = await search_max_rate(measure, bound=1000.0, start_rate=1.0, max_runs=12, rel_tolerance=0.02)
    assert result.bracketed
    assert result.best is not None and 10.5 <= result.best <= 10.79
    assert calls[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]  # bracketing by doubling
    assert all(p.ok == (p.level <= 10.79) for p in result.probes)
    assert len(result.probes) <= 12


async def test_rate_search_halves_when_the_start_fails_and_respects_the_run_budget() -> None:
    measure, calls = _queue_p99(capacity=2.0)
    result = await search_max_rate(measure, bound=1000.0, start_rate=16.0, max_runs=4)
    assert calls == [16.0, 8.0, 4.0, 2.0]
    assert result.best is None and not result.bracketed


async def test_rate_search_stops_at_max_rate_when_never_failing() -> None:
    async def flat(rate: float) -> float:
        return 1.0

    result = await search_max_rate(flat, bound=5.0, start_rate=1.0, max_rate=4.0, max_runs=10)
    assert result.best == 4.0 and not result.bracketed


async def test_stream_search_ramps_then_bisects() -> None:
    capacity = 700

    async def success(n: int) -> float:
        return 1.0 if n <= capacity else capacity / n

    result = await search_max_streams(success, start=100, maximum=10_000, max_runs=20, resolution=10)
    levels = [int(p.level) for p in result.probes]
    assert levels[:4] == [100, 200, 400, 800]
    assert result.best is not None and capacity - 10 <= result.best <= capacity
    assert result.bracketed


async def test_stream_search_uses_the_999_rule_and_caps_at_maximum() -> None:
    async def one_in_a_thousand_fails(n: int) -> float:
        return 1.0 - 1.0 / 1000.0 if n >= 1000 else 1.0

    held = await search_max_streams(one_in_a_thousand_fails, start=500, maximum=2000, max_runs=5)
    assert held.best == 2000.0  # 99.9 % exactly still counts as held

    async def always(n: int) -> float:
        return 1.0

    capped = await search_max_streams(always, start=3, maximum=10)
    assert capped.best == 10.0 and [p.level for p in capped.probes] == [3.0, 6.0, 10.0]
    with pytest.raises(ValueError):
        await search_max_streams(always, start=0)


@pytest.mark.parametrize(
    ("requests", "failures", "expected_ms"),
    [
        (100, 0, 99.01),  # successes of 1..100 ms: rank 98.01 → 99.01 ms
        (100, 1, math.inf),  # the failure is the 100th sample and the P99 rank reaches past the 99th
        (1000, 1, 990.01),  # rank 989.01 stays within the 999 successes (1..999 ms)
        (1000, 11, math.inf),
    ],
)
def test_p99_counts_failures_as_infinitely_slow(requests: int, failures: int, expected_ms: float) -> None:
    outcomes = [RequestOutcome(success=True, e2e_s=(i + 1) / 1000.0) for i in range(requests - failures)]
    outcomes += [RequestOutcome(success=False, error="x") for _ in range(failures)]
    assert p99_with_failures(outcomes, "e2e_s") == pytest.approx(expected_ms)
