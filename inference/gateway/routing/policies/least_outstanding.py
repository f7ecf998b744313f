"""Least outstanding requests (the default): the endpoint with the fewest requests in flight."""

from __future__ import annotations

import random
from collections.abc import Sequence

from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.policies.base import MembershipIgnored, least_loaded


class LeastOutstanding(MembershipIgnored):
    """Choose the candidate with the fewest outstanding requests; ties are broken at random so
    that idle endpoints share the first requests instead of the first one taking them all."""

    name = "least-outstanding"

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint:
        """The least-loaded candidate."""
        return least_loaded(candidates, self._rng)
