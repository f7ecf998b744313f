"""Passive ejection (outlier detection, after Envoy's): failures observed on real traffic take an
endpoint out of rotation for a while, longer each time it happens again."""

from __future__ import annotations

import math
from dataclasses import dataclass

from inference.gateway.routing.endpoint import Endpoint


@dataclass(frozen=True, slots=True)
class EjectionConfig:
    """How passive ejection behaves.

    - ``consecutive_failures``: failures in a row (connect errors, 5xx before the first byte) that
      eject an endpoint (Envoy's ``consecutive_5xx``).
    - ``base_ejection_s`` × number of times ejected, capped at ``max_ejection_s``: how long it stays
      out (Envoy's ``base_ejection_time`` / ``max_ejection_time``).
    - ``max_ejection_percent``: at most this share of the set is ejected at once, rounded down but
      at least one endpoint when the set has two or more; the last available endpoint is never
      ejected (traffic to a flaky endpoint beats no traffic).
    - ``decay_s``: each ``decay_s`` of successes without an ejection forgets one past ejection, so
      an endpoint that recovered for good gets short ejections again.

    An endpoint whose ejection ended is on probation until its next success: one failure then
    ejects it again at once.
    """

    consecutive_failures: int = 5
    base_ejection_s: float = 30.0
    max_ejection_s: float = 300.0
    max_ejection_percent: float = 50.0
    decay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.consecutive_failures < 1:
            raise ValueError("consecutive_failures must be >= 1")
        if self.base_ejection_s <= 0 or self.max_ejection_s < self.base_ejection_s:
            raise ValueError("need 0 < base_ejection_s <= max_ejection_s")
        if not 0.0 <= self.max_ejection_percent <= 100.0:
            raise ValueError("max_ejection_percent must be within [0, 100]")
        if self.decay_s <= 0:
            raise ValueError("decay_s must be > 0")

    def ejection_cap(self, members: int) -> int:
        """How many of ``members`` endpoints may be ejected at the same time."""
        if members < 2 or self.max_ejection_percent == 0.0:
            return 0
        return min(members - 1, max(1, math.floor(members * self.max_ejection_percent / 100.0)))

    def duration_s(self, times_ejected: int) -> float:
        """Length of the ``times_ejected``-th ejection (1-based)."""
        return min(self.base_ejection_s * max(1, times_ejected), self.max_ejection_s)


def record_success(endpoint: Endpoint, config: EjectionConfig, now: float) -> None:
    """Bookkeeping after a successful attempt on ``endpoint``."""
    endpoint.consecutive_failures = 0
    endpoint.probation = False
    if endpoint.times_ejected and now - endpoint.last_decay_at >= config.decay_s:
        endpoint.times_ejected -= 1
        endpoint.last_decay_at = now


def should_eject(endpoint: Endpoint, config: EjectionConfig, now: float) -> bool:
    """Count a failed attempt on ``endpoint``; true when it now deserves an ejection (the caller
    still checks the set's ejection cap)."""
    if endpoint.is_ejected(now):
        return False  # a request that started before the ejection finished late
    endpoint.consecutive_failures += 1
    return endpoint.probation or endpoint.consecutive_failures >= config.consecutive_failures


def eject(endpoint: Endpoint, config: EjectionConfig, now: float) -> float:
    """Eject ``endpoint`` from ``now``; returns the ejection's length in seconds."""
    endpoint.times_ejected += 1
    duration = config.duration_s(endpoint.times_ejected)
    endpoint.ejected_until = now + duration
    endpoint.consecutive_failures = 0
    endpoint.probation = False
    endpoint.last_decay_at = endpoint.ejected_until
    return duration


def expire(endpoint: Endpoint, now: float) -> bool:
    """End ``endpoint``'s ejection if its time is up (it goes on probation); true if it ended."""
    if endpoint.ejected_until is not None and now >= endpoint.ejected_until:
        endpoint.ejected_until = None
        endpoint.probation = True
        return True
    return False
