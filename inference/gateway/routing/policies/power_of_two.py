"""Power of two choices (as Ray Serve's ``pow_2_router``): sample two, keep the less loaded."""

from __future__ import annotations

import random
from collections.abc import Sequence

from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.policies.base import MembershipIgnored


class PowerOfTwo(MembershipIgnored):
    """Sample two distinct candidates uniformly and choose the one with fewer outstanding
    requests (a random one of the two on a tie). O(1) per pick whatever the set size, and the
    maximum load stays within O(log log n) of the mean, against O(log n / log log n) for random."""

    name = "power-of-two"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint:
        """The less loaded of two random candidates."""
        if len(candidates) == 1:
            return candidates[0]
        n = len(candidates)
        a = self._rng.randrange(n)
        b = self._rng.randrange(n - 1)
        first, second = candidates[a], candidates[b + 1 if b >= a else b]
        if first.outstanding == second.outstanding:
            return first if self._rng.random() < 0.5 else second
        return first if first.outstanding < second.outstanding else second
