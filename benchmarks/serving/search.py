"""Searches over load levels: the highest request rate within a P99 bound, the most concurrent streams.

Both take the measurement as a callable, so the search logic is tested on a fake latency model and
runs unchanged against a real server.

- :func:`search_max_rate`: bracketing (double the rate while the bound holds, halve while it does
  not) and then bisection between the best passing and the lowest failing rate, until they are
  within ``rel_tolerance`` or ``max_runs`` measurements were spent.
- :func:`search_max_streams`: ramp the number of concurrent streams by ``factor`` while the success
  rate stays at or above ``min_success``, then bisect between the last level held and the first
  lost, within ``max_runs``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Probe:
    """One measurement of the search: the level tried, the value observed, and whether it passed."""

    level: float
    value: float
    ok: bool


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The best passing level (``None`` when none passed) and every probe in order."""

    best: float | None
    probes: list[Probe] = field(default_factory=list)
    bracketed: bool = False

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "best": self.best,
            "bracketed": self.bracketed,
            "probes": [{"level": p.level, "value": p.value, "ok": p.ok} for p in self.probes],
        }


async def search_max_rate(
    measure_p99: Callable[[float], Awaitable[float]],
    *,
    bound: float,
    start_rate: float = 1.0,
    max_runs: int = 8,
    rel_tolerance: float = 0.1,
    min_rate: float = 1e-3,
    max_rate: float = 1e6,
) -> SearchResult:
    """The highest rate whose measured P99 (``measure_p99(rate)``; ``inf`` on failures) is ``<= bound``."""
    if not start_rate > 0 or max_runs < 1 or not bound > 0:
        raise ValueError("start_rate and bound must be positive and max_runs at least 1")
    probes: list[Probe] = []

    async def probe(rate: float) -> bool:
        value = await measure_p99(rate)
        ok = math.isfinite(value) and value <= bound
        probes.append(Probe(rate, value, ok))
        return ok

    low: float | None = None  # highest passing rate
    high: float | None = None  # lowest failing rate
    rate = start_rate
    while len(probes) < max_runs:
        if await probe(rate):
            low = rate
            if rate >= max_rate:
                break
            if high is not None:
                break
            rate = min(rate * 2, max_rate)
        else:
            high = rate
            if low is not None or rate <= min_rate:
                break
            rate = max(rate / 2, min_rate)
    bracketed = low is not None and high is not None
    while bracketed and len(probes) < max_runs:
        assert low is not None and high is not None
        if (high - low) / low <= rel_tolerance:
            break
        middle = (low + high) / 2
        if await probe(middle):
            low = middle
        else:
            high = middle
    return SearchResult(best=low, probes=probes, bracketed=bracketed)


async def search_max_streams(
    success_rate: Callable[[int], Awaitable[float]],
    *,
    start: int = 1,
    maximum: int = 10_000,
    factor: float = 2.0,
    min_success: float = 0.999,
    max_runs: int = 10,
    resolution: int = 1,
) -> SearchResult:
    """The most concurrent streams ``n <= maximum`` with ``success_rate(n) >= min_success``."""
    if start < 1 or maximum < start or factor <= 1 or max_runs < 1 or resolution < 1:
        raise ValueError("need 1 <= start <= maximum, factor > 1, max_runs >= 1 and resolution >= 1")
    probes: list[Probe] = []

    async def probe(n: int) -> bool:
        value = await success_rate(n)
        ok = value >= min_success
        probes.append(Probe(float(n), value, ok))
        return ok

    held: int | None = None
    lost: int | None = None
    n = start
    while len(probes) < max_runs:
        if not await probe(n):
            lost = n
            break
        held = n
        if n >= maximum:
            break
        n = min(maximum, max(n + 1, math.ceil(n * factor)))
    while held is not None and lost is not None and lost - held > resolution and len(probes) < max_runs:
        middle = (held + lost) // 2
        if await probe(middle):
            held = middle
        else:
            lost = middle
    return SearchResult(
        best=float(held) if held is not None else None, probes=probes, bracketed=lost is not None
    )
